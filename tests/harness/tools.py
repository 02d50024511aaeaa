"""Paths of the repository and of the tools `make setup` builds into bin/."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT
BIN = ROOT / "bin"


def tool(name: str) -> Path:
    """Return bin/NAME, or fail the test with the command that builds it."""
    path = BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"{path} is missing: run `make setup` (or `make tools`) in {ROOT} to build it "
            "from the Go module proxy",
            pytrace=False,
        )
    return path


def pinned_versions() -> dict[str, str]:
    """hack/versions.env, the one file of pinned tool versions, as a dict."""
    out = {}
    for line in (ROOT / "hack" / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip().strip('"')
    return out
