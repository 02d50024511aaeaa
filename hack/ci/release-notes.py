#!/usr/bin/env python3
"""Print the CHANGELOG.md entry of one released version: the text under its dated heading
`## VERSION - YYYY-MM-DD`, up to the next `## ` heading, without blank lines at either end.
The release workflow (.github/workflows/release.yml) makes it the GitHub release's notes.

usage: hack/ci/release-notes.py VERSION [CHANGELOG]   (default: CHANGELOG.md of the repository)
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

CHANGELOG = Path(__file__).resolve().parents[2] / "CHANGELOG.md"


def release_notes(text: str, version: str) -> str:
    """The entry of VERSION in a Keep a Changelog text; ValueError naming it when it has none."""
    heading = re.compile(rf"^## {re.escape(version)} - \d{{4}}-\d{{2}}-\d{{2}}$", re.M)
    found = heading.search(text)
    if not found:
        raise ValueError(f"CHANGELOG.md has no dated entry `## {version} - YYYY-MM-DD`: move the "
                         "Unreleased entries under it before tagging")
    rest = text[found.end():]
    following = re.search(r"^## ", rest, re.M)
    body = (rest[:following.start()] if following else rest).strip("\n")
    if not body.strip():
        raise ValueError(f"CHANGELOG.md's entry for {version} is empty")
    return body + "\n"


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    path = Path(argv[2]) if len(argv) == 3 else CHANGELOG
    try:
        sys.stdout.write(release_notes(path.read_text(), argv[1]))
    except ValueError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
