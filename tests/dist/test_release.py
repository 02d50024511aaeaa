"""What the release workflow (.github/workflows/release.yml) runs besides helm itself:
`make repo MERGE_INDEX=...`, which keeps the published repository's other versions in the new
index.yaml, and hack/ci/release-notes.py, which gives the GitHub release its CHANGELOG.md entry.
Level: the real make target and helm, and the script, on files."""
from __future__ import annotations

import sys

import pytest
import yaml

from harness.proc import CommandFailed, run
from harness.tools import ROOT

from .support import ARCHIVE, CHART_YAML, VERSION, sha256

pytestmark = pytest.mark.dist

REPO_URL = "https://charts.example.org/pytorch"
# An index as the gh-pages branch holds it after an earlier release.
OLD_ENTRY = {
    "apiVersion": "v2", "name": "pytorch", "version": "0.9.7", "appVersion": "2.7.1",
    "description": "an earlier release", "type": "application",
    "created": "2026-10-01T12:00:00Z",
    "digest": "0" * 64,
    "urls": [f"{REPO_URL}/pytorch-0.9.7.tgz"],
}


def test_should_keep_the_published_versions_when_merging_an_index(make_repo, tmp_path):
    old = tmp_path / "published-index.yaml"
    old.write_text(yaml.safe_dump({"apiVersion": "v1", "entries": {"pytorch": [OLD_ENTRY]},
                                   "generated": "2026-10-01T12:00:00Z"}))
    before = old.read_text()
    folder = make_repo(tmp_path / "dist", REPO_URL=REPO_URL, MERGE_INDEX=str(old))
    index = yaml.safe_load((folder / "index.yaml").read_text())
    new, kept = index["entries"]["pytorch"]
    assert (new["version"], new["urls"], new["digest"]) == (VERSION, [f"{REPO_URL}/{ARCHIVE}"], sha256(folder / ARCHIVE))
    assert new["appVersion"] == CHART_YAML["appVersion"]
    assert kept == OLD_ENTRY
    assert old.read_text() == before, "the merged index must not be rewritten"
    assert sorted(p.name for p in folder.iterdir()) == sorted([ARCHIVE, "index.yaml"])


def test_should_refuse_a_merge_index_that_does_not_exist(make_repo, tmp_path):
    missing = tmp_path / "no-index.yaml"
    with pytest.raises(CommandFailed) as failed:
        make_repo(tmp_path / "dist", MERGE_INDEX=str(missing))
    assert f"MERGE_INDEX={missing}: no such index file" in failed.value.proc.stderr
    assert not missing.exists(), "helm repo index --merge would have created it"


def release_notes(*args: str):
    return run([sys.executable, ROOT / "hack" / "ci" / "release-notes.py", *args], check=False)


CHANGELOG = """\
# Changelog

## Unreleased

- not released yet

## 1.12.3 - 2026-12-01

### Fixed

- the fix

## 1.12.2 - 2026-11-01

- older
"""


def test_should_print_the_changelog_entry_of_a_released_version(tmp_path):
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(CHANGELOG)
    proc = release_notes("1.12.3", str(changelog))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "### Fixed\n\n- the fix\n", "")
    proc = release_notes("1.12.2", str(changelog))
    assert (proc.returncode, proc.stdout) == (0, "- older\n")


def test_should_refuse_a_version_that_the_changelog_has_not_dated(tmp_path):
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(CHANGELOG)
    proc = release_notes("1.12.4", str(changelog))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("CHANGELOG.md has no dated entry `## 1.12.4 - YYYY-MM-DD`: move the Unreleased "
                           "entries under it before tagging\n")


def test_should_give_the_first_release_its_own_entry():
    """1.0.0 is the oldest entry of the real CHANGELOG.md: everything below its heading."""
    entry = (ROOT / "CHANGELOG.md").read_text().split("\n## 1.0.0 - 2026-11-29\n", 1)[1]
    proc = release_notes("1.0.0")
    assert (proc.returncode, proc.stdout) == (0, entry.strip("\n") + "\n"), proc.stderr


def test_should_give_artifact_hub_the_chart_maintainers_as_repository_owners():
    metadata = yaml.safe_load((ROOT / "artifacthub-repo.yml").read_text())
    assert metadata == {"owners": CHART_YAML["maintainers"]}
