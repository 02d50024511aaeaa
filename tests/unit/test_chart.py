"""The chart as a whole (Chart.yaml, ci/): helm lint --strict for every scenario, Helm 3 / Helm 4
render parity, and the Kubernetes versions that kubeVersion admits."""
import pytest

from harness.presets import CODE, JOB, SHARED_CLAIM, distributed, merge
from harness.render import _differs_by_version, helm_run, render
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


def test_should_refuse_kubernetes_older_than_kube_version(render_error):
    assert "kubeVersion" in render_error(None, args=("--kube-version", "1.29.0"))


@pytest.mark.parametrize("version", ["1.30.0", "1.37.0"])
def test_should_render_for_oldest_and_newest_supported_kubernetes(render, version):
    assert render(None, "mode=distributed", "worldSize=2", args=("--kube-version", version))["StatefulSet"]


def test_should_render_again_at_the_oldest_version_exactly_what_reads_the_cluster_version():
    """The harness validates a render at the oldest supported version only when an object came
    from a template that reads .Capabilities.KubeVersion (tests/harness/render.py)."""
    job_values = merge(distributed(2), CODE, JOB, SHARED_CLAIM)
    assert _differs_by_version(render(job_values), str(CHART))
    assert not _differs_by_version(render(distributed(2)), str(CHART))
    newest = render(job_values, args=("--kube-version", "1.37.0"))["Job"]["spec"]
    oldest = render(job_values, args=("--kube-version", "1.30.0"))["Job"]["spec"]
    assert "successPolicy" in newest and "successPolicy" not in oldest
