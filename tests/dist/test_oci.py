"""The chart in an OCI registry, as Helm 3.8+ and 4 ship charts: a real Distribution registry
on loopback, helm push, then helm pull / show / template straight from oci://."""
from __future__ import annotations

import json
import re

import pytest

from harness.proc import run
from harness.render import Manifests

from .support import ARCHIVE, VERSION, sha256

pytestmark = pytest.mark.dist


@pytest.fixture(scope="module")
def pushed(dist_env, chart_repo, oci_registry) -> dict:
    """helm push of the `make repo` archive; the chart's oci:// reference and the pushed digest."""
    proc = run(["helm", "push", chart_repo / ARCHIVE, f"oci://{oci_registry.host}/charts", "--plain-http"], dist_env)
    out = proc.stdout + proc.stderr
    assert f"Pushed: {oci_registry.host}/charts/pytorch:{VERSION}" in out, out
    return {"ref": f"oci://{oci_registry.host}/charts/pytorch", "digest": re.search(r"Digest: (sha256:\w+)", out)[1]}


def test_should_store_the_archive_as_the_chart_layer(pushed, oci_registry, chart_repo):
    manifest = oci_registry.manifest("charts/pytorch", VERSION)
    assert manifest["digest"] == pushed["digest"]
    assert manifest["config"]["mediaType"] == "application/vnd.cncf.helm.config.v1+json"
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    assert layer["digest"] == f"sha256:{sha256(chart_repo / ARCHIVE)}"
    assert manifest["annotations"]["org.opencontainers.image.version"] == VERSION


def test_should_pull_the_pushed_archive_with_the_same_digest(dist_env, pushed, chart_repo, tmp_path):
    proc = run(["helm", "pull", pushed["ref"], "--version", VERSION, "--plain-http", "--destination", tmp_path],
               dist_env)
    assert re.search(r"Digest: (sha256:\w+)", proc.stdout + proc.stderr)[1] == pushed["digest"]
    assert sha256(tmp_path / ARCHIVE) == sha256(chart_repo / ARCHIVE)


def test_should_render_four_ranks_from_the_registry(dist_env, pushed):
    out = run(["helm", "template", "rel", pushed["ref"], "--version", VERSION, "--plain-http",
               "--set", "mode=distributed", "--set", "worldSize=4"], dist_env).stdout
    assert Manifests.parse(out)["StatefulSet"]["spec"]["replicas"] == 4


def test_should_dry_run_an_install_by_digest(dist_env, pushed):
    out = run(["helm", "install", "rel", f"{pushed['ref']}@{pushed['digest']}", "--plain-http",
               "--dry-run=client", "--set", "mode=distributed", "--set", "worldSize=4", "-o", "json"],
              dist_env).stdout
    # helm 4 prints "Pulled: ...@sha256:..." and "Digest: ..." on stdout before the JSON
    pulled, _, release = out.partition("\n{")
    assert f"Pulled: {pushed['ref'][len('oci://'):]}@{pushed['digest']}" in pulled
    assert Manifests.parse(json.loads("{" + release)["manifest"])["StatefulSet"]["spec"]["replicas"] == 4
