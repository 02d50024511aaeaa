#!/usr/bin/env python3
"""Write Chart.yaml's artifacthub.io/changes from CHANGELOG.md: the section of Chart.yaml's
version when it is dated, else Unreleased (tests/dist/test_metadata.py checks the two agree).
The annotation must stay the last block of Chart.yaml. Usage: hack/chart-changes.py [--check]"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "  artifacthub.io/changes: |\n"


def entries(changelog: str, version: str) -> list[tuple[str, str]]:
    sections = {part.split("\n", 1)[0].split(" - ")[0].strip(): part.split("\n", 1)[1]
                for part in re.split(r"^## ", changelog, flags=re.M)[1:]}
    section = sections.get(version, sections.get("Unreleased", ""))
    out, kind = [], None
    for line in section.splitlines():
        if line.startswith("### "):
            kind = line[4:].strip().lower()
        elif line.startswith("- "):
            out.append((kind, line[2:].strip()))
    return out


def main() -> int:
    chart = (ROOT / "Chart.yaml").read_text()
    version = re.search(r"^version: (\S+)$", chart, re.M).group(1)
    head = chart[: chart.index(KEY) + len(KEY)]
    body = "".join(f"    - kind: {kind}\n      description: '{text.replace(chr(39), chr(39) * 2)}'\n"
                   for kind, text in entries((ROOT / "CHANGELOG.md").read_text(), version))
    if "--check" in sys.argv:
        return 0 if head + body == chart else 1
    (ROOT / "Chart.yaml").write_text(head + body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
