"""chart-testing (`ct lint`, the linter of the helm/charts ecosystem) with the repository's ct.yaml
and .ct/ rules: clean for the chart with every ci/*-values.yaml, and failing on a bad file."""
from __future__ import annotations

import re
import tarfile

import pytest

from harness.proc import run
from harness.tools import ROOT, tool

from .support import ARCHIVE

pytestmark = pytest.mark.dist

CI_FILES = sorted(p.name for p in (ROOT / "ci").glob("*-values.yaml"))


@pytest.fixture(scope="session")
def ct_env(dist_env):
    tool("ct")
    for name in ("yamllint", "yamale"):
        if not (ROOT / ".venv" / "bin" / name).is_file():
            pytest.fail(f".venv/bin/{name} is missing: run `make setup` in {ROOT}", pytrace=False)
    # Any git command fails: ct lint must work in a fresh clone, a tarball or a CI checkout.
    return {**dist_env, "GIT_DIR": str(ROOT / "no-such-git-dir"), "GIT_CEILING_DIRECTORIES": str(ROOT.parent)}


def ct_lint(env, chart=ROOT):
    return run([ROOT / "hack" / "dist" / "ct-lint.sh", chart], env, check=False)


def test_should_lint_clean_with_every_ci_values_file(ct_env):
    proc = ct_lint(ct_env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "All charts linted successfully" in out
    assert len(CI_FILES) >= 8
    for name in CI_FILES:
        assert re.search(rf'Linting chart with values file ".*/charts/pytorch/ci/{re.escape(name)}"', out), name
    assert "Validation success!" in out  # Chart.yaml against .ct/chart_schema.yaml (yamale)


@pytest.fixture
def chart_copy(chart_repo, tmp_path):
    """The packaged chart unpacked, with ci/ (which .helmignore keeps out of the package)."""
    with tarfile.open(chart_repo / ARCHIVE) as tar:
        tar.extractall(tmp_path, filter="data")
    chart = tmp_path / "pytorch"
    (chart / "ci").mkdir()
    for name in CI_FILES:
        (chart / "ci" / name).write_bytes((ROOT / "ci" / name).read_bytes())
    return chart


def test_should_fail_on_a_ci_file_that_yamllint_rejects(ct_env, chart_copy):
    (chart_copy / "ci" / "0-sloppy-values.yaml").write_text("mode: standalone \nmode: distributed\n")
    proc = ct_lint(ct_env, chart_copy)
    assert proc.returncode != 0
    assert "0-sloppy-values.yaml" in proc.stdout and "key-duplicates" in proc.stdout, proc.stdout


def test_should_fail_on_a_ci_file_that_helm_lint_rejects(ct_env, chart_copy):
    (chart_copy / "ci" / "0-bad-mode-values.yaml").write_text("mode: both\n")  # not in the schema's enum
    proc = ct_lint(ct_env, chart_copy)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "0-bad-mode-values.yaml" in out and "values don't meet the specifications of the schema" in out, out


def test_should_fail_on_a_chart_yaml_that_the_ct_schema_rejects(ct_env, chart_copy):
    chart_yaml = chart_copy / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text().replace('artifacthub.io/prerelease: "false"',
                                                         "artifacthub.io/prerelease: false"))
    proc = ct_lint(ct_env, chart_copy)
    assert proc.returncode != 0
    assert "annotations.artifacthub.io/prerelease" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
