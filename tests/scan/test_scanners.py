"""Scanners that nobody here wrote, on what the chart renders: kube-score, kubeconform -strict at
the oldest and the newest supported Kubernetes version, and checkov, on the default values and on
every ci/*-values.yaml. Every finding fails unless hack/scanners/waivers.yaml waives it with a
reason, and a waiver that waives nothing fails too. Level: render (helm template), no cluster.

Each scenario is rendered once per Kubernetes version (the render harness's cache) and written
to a folder; kube-score and kubeconform run once per scenario and version, checkov once for all.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from harness import kube_schema
from harness.render import render
from harness.tools import ROOT

from . import schemas
from .scanners import SCANNERS, WAIVERS, Finding, Report, Waiver, checkov, kube_score, kubeconform, load_waivers

pytestmark = pytest.mark.scan

CI = sorted(ROOT.glob("ci/*-values.yaml"))
SCENARIOS = ["default", *(p.name.removesuffix("-values.yaml") for p in CI)]
VERSIONS = (kube_schema.OLDEST, kube_schema.NEWEST)
SCHEMAS = ROOT / ".cache" / "kubeconform-schemas"


def _values(scenario: str) -> dict | None:
    return None if scenario == "default" else yaml.safe_load((ROOT / "ci" / f"{scenario}-values.yaml").read_text())


@pytest.fixture(scope="session")
def manifests(tmp_path_factory) -> dict[str, Path]:
    """'scenario@version' -> the file holding every object helm renders for it (the test hook too)."""
    folder = tmp_path_factory.mktemp("scan-renders")
    out = {}
    for scenario in SCENARIOS:
        for version in VERSIONS:
            text = render(_values(scenario), args=("--kube-version", f"{version}.0")).text
            out[f"{scenario}@{version}"] = folder / version / f"{scenario}.yaml"
            out[f"{scenario}@{version}"].parent.mkdir(exist_ok=True)
            out[f"{scenario}@{version}"].write_text(text)
    return out


@pytest.fixture(scope="session")
def waivers() -> list[Waiver]:
    return load_waivers()


@pytest.fixture(scope="session")
def kubeconform_schemas() -> Path:
    schemas.write(SCHEMAS, list(VERSIONS))
    return SCHEMAS


@pytest.fixture(scope="session")
def reports(manifests, kubeconform_schemas) -> dict[tuple[str, str], Report]:
    """(scenario, 'kube-score' | 'kubeconform@1.30' | 'kubeconform@1.37' | 'checkov') -> Report,
    each scanner run as it is first asked for."""

    class Reports(dict):
        def __missing__(self, key: tuple[str, str]) -> Report:
            scenario, scanner = key
            if scanner == "checkov":
                for stem, report in checkov(manifests[f"default@{kube_schema.NEWEST}"].parent).items():
                    self[(stem, "checkov")] = report
            elif scanner == "kube-score":
                self[key] = kube_score(manifests[f"{scenario}@{kube_schema.NEWEST}"], kube_schema.NEWEST)
            else:
                version = scanner.partition("@")[2]
                self[key] = kubeconform(manifests[f"{scenario}@{version}"], kubeconform_schemas,
                                        schemas.TEMPLATES, version)
            return self[key]

    return Reports()


def _unwaived(scenario: str, report: Report, waivers: list[Waiver]) -> list[Finding]:
    return [f for f in report.findings if not any(w.matches(scenario, f) for w in waivers)]


def _explain(scenario: str, scanner: str, findings: list[Finding]) -> str:
    return (f"{scanner} on the {scenario} render: {len(findings)} finding(s) not waived in "
            f"{WAIVERS.relative_to(ROOT)} (fix the chart, or waive with a reason and state it in "
            "README.md's Security section):\n" + "\n".join(f"  {f}" for f in findings))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_kube_score_finds_nothing_unwaived(scenario, reports, waivers):
    report = reports[(scenario, "kube-score")]
    assert report.checks >= 40, f"kube-score ran only {report.checks} checks"
    assert _unwaived(scenario, report, waivers) == [], _explain(scenario, "kube-score", _unwaived(scenario, report, waivers))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_kubeconform_strict_finds_every_object_valid(scenario, version, reports, manifests, waivers):
    report = reports[(scenario, f"kubeconform@{version}")]
    objects = sum(1 for d in yaml.safe_load_all(manifests[f"{scenario}@{version}"].read_text()) if d)
    assert report.checks == objects, f"kubeconform checked {report.checks} of {objects} objects"
    unwaived = _unwaived(scenario, report, waivers)
    assert unwaived == [], _explain(scenario, f"kubeconform (Kubernetes {version})", unwaived)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_checkov_finds_nothing_unwaived(scenario, reports, waivers):
    report = reports[(scenario, "checkov")]
    assert report.checks >= 100, f"checkov ran only {report.checks} checks"
    assert _unwaived(scenario, report, waivers) == [], _explain(scenario, "checkov", _unwaived(scenario, report, waivers))


def test_kubeconform_refuses_an_unknown_field(tmp_path, kubeconform_schemas):
    """The schemas are strict and really read: a field Kubernetes does not know is a finding."""
    manifest = tmp_path / "typo.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: {}\nbinaryDate: {}\n"
                        "---\napiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata:\n  name: y\n"
                        "spec:\n  selector: {}\n  podMetricsEndpoint: []\n")
    report = kubeconform(manifest, kubeconform_schemas, schemas.TEMPLATES, kube_schema.NEWEST)
    assert report.checks == 2
    assert {(f.check, f.kind) for f in report.findings} == {("invalid", "ConfigMap"), ("invalid", "PodMonitor")}
    messages = {f.kind: " ".join(g.message for g in report.findings if g.kind == f.kind) for f in report.findings}
    assert "binaryDate" in messages["ConfigMap"] and "podMetricsEndpoint" in messages["PodMonitor"], messages


def test_every_waiver_waives_a_finding(reports, waivers):
    """A waiver that matches nothing in any scenario hides nothing and is stale: remove it."""
    keys = [(s, "kube-score") for s in SCENARIOS] + [(s, "checkov") for s in SCENARIOS] + \
           [(s, f"kubeconform@{v}") for s in SCENARIOS for v in VERSIONS]
    used = {id(w) for key in keys for f in reports[key].findings for w in waivers if w.matches(key[0], f)}
    stale = [str(w) for w in waivers if id(w) not in used]
    assert stale == [], f"waivers in {WAIVERS.relative_to(ROOT)} that waive nothing: {stale}"


def test_readme_states_every_waiver(waivers):
    """Each waiver is a design decision that README.md's Security section states."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## Security\n(.*?)(?=^## )", readme, re.M | re.S)
    assert section, "README.md has no '## Security' section"
    missing = sorted({f"{w.scanner} {w.check}" for w in waivers
                      if not re.search(rf"\b{re.escape(w.scanner)}\b.*`{re.escape(w.check)}`", section.group(1))})
    assert missing == [], f"README.md's Security section does not state these waivers: {missing}"
    assert all(s in section.group(1) for s in SCANNERS)
