"""The CI workflows in .github/workflows: actionlint (with shellcheck on every `run:` block) finds
nothing, every action is pinned by a commit SHA, every workflow and job has least-privilege
permissions, and every make target a workflow calls exists. Level: the workflow files, checked
by the tools GitHub's own runner would not run for us (docs/distribution.md, "CI workflows")."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from harness.proc import run
from harness.tools import ROOT, tool

pytestmark = pytest.mark.dist

WORKFLOWS = ROOT / ".github" / "workflows"
# A step's `uses:`: owner/repo[/path]@<40 hex digits>, then a comment naming the release tag.
PINNED_USES = re.compile(r"^\s*(?:-\s+)?uses: ([\w.-]+/[\w.-]+(?:/[\w./-]+)?)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$")
# `make` and its words up to the end of the command line (a `\` continues it).
MAKE_CALL = re.compile(r"\bmake((?:[ \t]+(?:\\\n[ \t]*)?[A-Za-z][\w-]*(?:=\S*)?)+)")


def workflow_files() -> list[Path]:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert files, f"no workflow in {WORKFLOWS}"
    return files


def load(path: Path) -> dict:
    # YAML 1.1 reads the key `on` as True; the workflow's triggers are under True then.
    return yaml.safe_load(path.read_text())


def shellcheck() -> str:
    path = shutil.which("shellcheck")
    if not path:
        pytest.fail("shellcheck is missing: run `make ci-tools` (it installs Debian's shellcheck "
                    "with apt-get), or `apt-get install shellcheck`", pytrace=False)
    return path


def actionlint(*files: Path) -> str:
    """actionlint's findings on FILES, shellcheck on; '' when there are none."""
    proc = run([tool("actionlint"), "-no-color", f"-shellcheck={shellcheck()}", "-pyflakes=", *files], check=False)
    assert proc.returncode in (0, 1), f"actionlint failed ({proc.returncode}): {proc.stderr}"
    return proc.stdout + proc.stderr


def test_should_find_no_actionlint_or_shellcheck_finding_in_any_workflow():
    assert actionlint(*workflow_files()) == ""


def test_should_report_a_shellcheck_finding_in_a_run_block(tmp_path):
    """The check above is not vacuous: shellcheck really runs on the `run:` blocks."""
    text = (WORKFLOWS / "release.yml").read_text()
    broken = text.replace('if [ "v$version" != "$GITHUB_REF_NAME" ]; then', "if [ v$version != $GITHUB_REF_NAME ]; then")
    assert broken != text
    bad = tmp_path / "release.yml"
    bad.write_text(broken)
    findings = actionlint(bad)
    assert "shellcheck reported issue in this script: SC2086" in findings, findings


def uses_lines() -> list[tuple[str, str]]:
    return [(path.name, line) for path in workflow_files() for line in path.read_text().splitlines()
            if re.match(r"^\s*(?:-\s+)?uses:", line)]


def test_should_pin_every_action_by_a_full_commit_sha_and_name_its_release():
    lines = uses_lines()
    assert lines
    unpinned = [(name, line.strip()) for name, line in lines if not PINNED_USES.match(line)]
    assert unpinned == []


def test_should_pin_each_action_to_one_commit_everywhere():
    pins: dict[str, set[str]] = {}
    for _, line in uses_lines():
        action, sha, version = PINNED_USES.match(line).groups()
        pins.setdefault(action, set()).add(f"{sha} {version}")
    assert pins == {
        "actions/checkout": {"08c6903cd8c0fde910a37f88322edcfb5dd907a8 v5.0.0"},
        "actions/setup-go": {"44694675825211faa026b3c33043df3e48a5fa00 v6.0.0"},
    }


def test_should_give_every_workflow_nothing_and_every_job_only_what_it_uses():
    granted = {}
    for path in workflow_files():
        workflow = load(path)
        assert workflow["permissions"] == {}, f"{path.name}: the workflow's default must be `permissions: {{}}`"
        granted[path.name] = {job: spec.get("permissions", "missing") for job, spec in workflow["jobs"].items()}
    assert granted == {
        "lint-test.yml": {"lint": {"contents": "read"}, "unit": {"contents": "read"},
                          "control-plane": {"contents": "read"}, "node": {"contents": "read"}},
        "release.yml": {"release": {"contents": "write", "packages": "write"}},
    }


def make_targets() -> set[str]:
    """The targets the Makefile and mk/*.mk define."""
    targets = set()
    for path in [ROOT / "Makefile", *sorted((ROOT / "mk").glob("*.mk"))]:
        for line in path.read_text().splitlines():
            found = re.match(r"^([a-z][a-z0-9-]*(?:\s+[a-z][a-z0-9-]*)*)\s*:(?!=)", line)
            if found:
                targets.update(found.group(1).split())
    return targets


def make_calls(text: str) -> set[str]:
    """The targets named by the `make ...` command lines in TEXT (variables left out)."""
    calls = set()
    for found in MAKE_CALL.finditer(text):
        calls.update(word for word in found.group(1).split() if "=" not in word)
    return calls


def run_blocks(path: Path) -> str:
    return "\n".join(step.get("run", "") for job in load(path)["jobs"].values() for step in job["steps"])


def test_should_call_only_make_targets_that_exist():
    targets = make_targets()
    called = {path.name: make_calls(run_blocks(path)) for path in workflow_files()}
    assert called == {
        "lint-test.yml": {"workflow-lint", "ct-lint", "lint", "dist-test", "unit", "scan-test", "tools", "venv",
                          "cluster-bins", "cluster-test", "node-test"},
        "release.yml": {"repo"},
    }
    assert {name: sorted(calls - targets) for name, calls in called.items()} == \
        {"lint-test.yml": [], "release.yml": []}


def test_should_tell_a_make_target_that_does_not_exist():
    assert make_calls("make unit PYTEST_ARGS=-q\nsudo env X=1 make no-such-target") == {"unit", "no-such-target"}
    assert {"unit", "repo", "workflow-lint", "ci-tools"} <= make_targets()
    assert "no-such-target" not in make_targets()


def test_should_install_the_go_version_pinned_in_versions_env():
    for path in workflow_files():
        for job in load(path)["jobs"].values():
            steps = job["steps"]
            go = [s for s in steps if s.get("uses", "").startswith("actions/setup-go@")]
            if not go:
                continue
            assert go[0]["with"]["go-version"] == "${{ env.GO_VERSION }}"
            before = steps[:steps.index(go[0])]
            assert any(s.get("run") == "grep '^GO_VERSION=' hack/versions.env >>\"$GITHUB_ENV\"" for s in before)
