"""helm lint --strict for every scenario, and Helm 3 / Helm 4 render parity."""
from pathlib import Path

import pytest

from harness.render import helm_run, render
from harness.tools import CHART

SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))


def test_should_have_ci_scenarios():
    assert len(SCENARIOS) >= 8


@pytest.mark.parametrize("values", [None, *SCENARIOS], ids=lambda p: p.name if p else "defaults")
def test_should_lint_strictly_clean(values):
    args = ["lint", "--strict", str(CHART)] + (["-f", str(values)] if values else [])
    proc = helm_run(*args, check=False)
    assert proc.returncode == 0 and "0 chart(s) failed" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("values", [None, *SCENARIOS], ids=lambda p: p.name if p else "defaults")
def test_should_render_identically_with_helm3_and_helm4(values):
    args = ("-f", str(values)) if values else ()
    four = render(None, helm="helm", args=args, show_tests=True)
    three = render(None, helm="helm3", args=args, show_tests=True)
    assert len(four) > 0 and four.objects == three.objects


def test_should_report_pinned_helm_versions():
    assert "v4.3.2" in helm_run("version", "--short").stdout
    assert "v3.22.0" in helm_run("version", "--short", helm="helm3").stdout
