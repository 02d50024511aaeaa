"""Fixtures shared by every test suite."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import render as _render
from harness.tools import tool


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    """bin/helm; fails the test with "run `make setup`" when it is missing."""
    return tool("helm")


@pytest.fixture(scope="session")
def render():
    """render(values=None, *sets, **options) -> Manifests; see harness.render."""
    return _render.render


@pytest.fixture(scope="session")
def render_error():
    """render_error(values=None, *sets) -> helm's error message; fails if helm succeeds."""
    return _render.render_error


@pytest.fixture(scope="session")
def default():
    """The render of the default values."""
    return _render.render()


@pytest.fixture(scope="session")
def distributed():
    """The render of the README's example: mode=distributed, worldSize=4."""
    return _render.render(None, "mode=distributed", "worldSize=4")


_SERIAL_GROUPS = ("node", "cluster", "runtime", "dist", "scan")


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (--dist loadgroup), keep each slow suite on one worker, so that its
    session fixtures (control plane, registry, torch processes) start once."""
    for item in items:
        for group in _SERIAL_GROUPS:
            if item.get_closest_marker(group):
                item.add_marker(pytest.mark.xdist_group(group))
                break
