"""The chart repository that `make repo` builds, served over HTTP and used the way users do:
helm repo add / update / search, show values, pull, template and a client-side dry-run install."""
from __future__ import annotations

import json
import tarfile

import pytest
import yaml

from harness.proc import run
from harness.render import Manifests
from harness.tools import ROOT

from .support import ARCHIVE, CHART_YAML, VERSION, sha256

pytestmark = pytest.mark.dist

FOUR_RANKS = ["--set", "mode=distributed", "--set", "worldSize=4"]


def test_should_build_an_index_of_the_packaged_chart(chart_repo):
    assert sorted(p.name for p in chart_repo.iterdir()) == sorted([ARCHIVE, "index.yaml"])
    index = yaml.safe_load((chart_repo / "index.yaml").read_text())
    [entry] = index["entries"]["pytorch"]
    for field in ("name", "version", "appVersion", "description", "kubeVersion", "home", "icon", "sources",
                  "keywords", "annotations"):
        assert entry[field] == CHART_YAML[field], field
    assert entry["digest"] == sha256(chart_repo / ARCHIVE)
    assert entry["urls"] == [ARCHIVE]


def test_should_find_the_chart_with_helm_search_repo(dist_env, helm_repo):
    [hit] = json.loads(run(["helm", "search", "repo", "pytorch", "-o", "json"], dist_env).stdout)
    assert hit == {"name": f"{helm_repo}/pytorch", "version": VERSION, "app_version": CHART_YAML["appVersion"],
                   "description": CHART_YAML["description"]}
    table = run(["helm", "search", "repo", "pytorch", "--max-col-width", "0"], dist_env).stdout
    header, row = table.strip().splitlines()
    assert header.split() == ["NAME", "CHART", "VERSION", "APP", "VERSION", "DESCRIPTION"]
    assert row.split(None, 3) == [f"{helm_repo}/pytorch", VERSION, CHART_YAML["appVersion"],
                                  CHART_YAML["description"]]


def test_should_show_values_byte_for_byte(dist_env, helm_repo, chart_repo):
    values = (ROOT / "values.yaml").read_bytes()
    with tarfile.open(chart_repo / ARCHIVE) as tar:
        assert tar.extractfile("pytorch/values.yaml").read() == values
    shown = run(["helm", "show", "values", f"{helm_repo}/pytorch", "--version", VERSION], dist_env).stdout
    # helm prints the file with Println: the file's bytes, then one newline of its own
    assert shown.encode() == values + b"\n"


def test_should_show_the_chart_metadata(dist_env, helm_repo):
    shown = yaml.safe_load(run(["helm", "show", "chart", f"{helm_repo}/pytorch"], dist_env).stdout)
    assert shown == CHART_YAML


def test_should_pull_the_archive_that_the_repository_holds(dist_env, helm_repo, chart_repo, tmp_path):
    run(["helm", "pull", f"{helm_repo}/pytorch", "--version", VERSION, "--destination", tmp_path], dist_env)
    assert (tmp_path / ARCHIVE).read_bytes() == (chart_repo / ARCHIVE).read_bytes()


def assert_four_ranks(m: Manifests) -> None:
    sts = m["StatefulSet"]
    assert sts["spec"]["replicas"] == 4
    assert m.env()["WORLD_SIZE"] == "4"
    assert sts["spec"]["serviceName"] in {o["metadata"]["name"] for o in m.all("Service")}


def test_should_render_four_ranks_from_the_repository(dist_env, helm_repo):
    out = run(["helm", "template", "rel", f"{helm_repo}/pytorch", *FOUR_RANKS], dist_env).stdout
    assert_four_ranks(Manifests.parse(out))


def test_should_dry_run_an_install_from_the_repository(dist_env, helm_repo):
    out = run(["helm", "install", "rel", f"{helm_repo}/pytorch", "--namespace", "ml", *FOUR_RANKS,
               "--dry-run=client", "-o", "json"], dist_env).stdout
    release = json.loads(out)
    assert release["chart"]["metadata"]["version"] == VERSION
    assert release["info"]["status"] == "pending-install"
    assert_four_ranks(Manifests.parse(release["manifest"]))
    assert "rel" in release["info"]["notes"]  # NOTES.txt rendered for the release
