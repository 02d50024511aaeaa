"""Fixtures of the render suite (tests/unit): charts with extra files, and probe templates that
call one helper directly."""
from __future__ import annotations

import functools

import pytest

from harness.render import Manifests, chart_copy, render, render_error


@pytest.fixture(scope="session")
def chart_with_files(tmp_path_factory):
    """A copy of the chart with a user's files dropped into files/, as the README says."""
    return chart_copy(tmp_path_factory.mktemp("chart"), {"files/train.py": "print('training')\n",
                                                        "files/config.yaml": "lr: 0.1\n"})


@pytest.fixture(scope="session")
def probe(tmp_path_factory):
    """probe(template, values=None) renders a chart copy that has one more template,
    templates/probe.yaml, to call a helper the way no chart template does (a missing argument,
    a value the schema forbids); returns the Manifests, or helm's error with error=True."""

    @functools.lru_cache(maxsize=None)
    def chart(template: str):
        return chart_copy(tmp_path_factory.mktemp("probe"), {"templates/probe.yaml": template})

    def run(template: str, values: dict | None = None, error: bool = False) -> Manifests | str:
        if error:
            return render_error(values, chart=chart(template))
        return render(values, chart=chart(template))

    return run
