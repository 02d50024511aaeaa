"""Run the scanners on rendered manifests and read what they found; read the waivers.

Each scanner's answer becomes a Report: how many checks it ran and its Findings (scanner, check
id, object, container where the scanner names one, message). A Waiver from hack/scanners/waivers.yaml
matches findings by check id and, where it says so, by kind, object name, container and scenario.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from harness.proc import run
from harness.tools import BIN, ROOT

WAIVERS = ROOT / "hack" / "scanners" / "waivers.yaml"
CHECKOV = ROOT / ".cache" / "checkov-venv" / "bin" / "checkov"
SCANNERS = ("kube-score", "kubeconform", "checkov")
# kube-score's grades: 10 is "all OK"; anything lower is a warning or a critical finding.
_KUBE_SCORE_OK = 10


@dataclass(frozen=True)
class Finding:
    scanner: str
    check: str
    kind: str
    name: str
    container: str
    message: str

    def __str__(self) -> str:
        where = f"{self.kind}/{self.name}" + (f" container {self.container}" if self.container else "")
        return f"{self.scanner} {self.check} on {where}: {self.message}"


@dataclass
class Report:
    checks: int
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class Waiver:
    """A waived check; each scope (kind, name, container, scenarios) that is not empty must hold
    the finding's value."""

    scanner: str
    check: str
    reason: str
    kind: tuple[str, ...] = ()
    name: tuple[str, ...] = ()
    container: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()

    def matches(self, scenario: str, finding: Finding) -> bool:
        scopes = ((self.kind, finding.kind), (self.name, finding.name), (self.container, finding.container),
                  (self.scenarios, scenario))
        return (finding.scanner, finding.check) == (self.scanner, self.check) and \
            all(not allowed or value in allowed for allowed, value in scopes)

    def __str__(self) -> str:
        scope = ", ".join(f"{k}={','.join(v)}" for k, v in (("kind", self.kind), ("name", self.name),
                                                           ("container", self.container),
                                                           ("scenarios", self.scenarios)) if v)
        return f"{self.scanner} {self.check}" + (f" ({scope})" if scope else "")


def load_waivers(path: Path = WAIVERS) -> list[Waiver]:
    """Every waiver of the file; fails on an unknown scanner or key, or a waiver with no reason.
    A scope is one string or a list of them."""
    data = yaml.safe_load(path.read_text()) or {}
    unknown = set(data) - set(SCANNERS)
    assert not unknown, f"{path}: unknown scanners {sorted(unknown)} (known: {SCANNERS})"
    scopes = {"kind", "name", "container", "scenarios"}
    out = []
    for scanner, entries in data.items():
        for entry in entries or []:
            extra = set(entry) - scopes - {"check", "reason"}
            assert not extra, f"{path}: {scanner} waiver {entry} has unknown keys {sorted(extra)}"
            assert entry.get("check") and str(entry.get("reason", "")).strip(), \
                f"{path}: {scanner} waiver {entry} needs a check and a reason"
            scope = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in entry.items() if k in scopes}
            out.append(Waiver(scanner=scanner, check=entry["check"], reason=entry["reason"], **scope))
    return out


def scanner(path: Path) -> Path:
    """A scanner `make setup` installs, or fail the test saying so."""
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is missing: run `make setup` (or `make scanners`) in {ROOT}", pytrace=False)
    return path


def kube_score(manifest: Path, kube_version: str) -> Report:
    """kube-score's default checks plus the optional seccomp check; the objects' kube-score/*
    annotations have no effect (the waivers file is the one place that waives)."""
    proc = run([scanner(BIN / "kube-score"), "score", "--output-format", "json", "--kubernetes-version", f"v{kube_version}",
                "--enable-optional-test", "container-seccomp-profile", "--disable-ignore-checks-annotations",
                "--disable-optional-checks-annotations", manifest], check=False)
    assert proc.returncode in (0, 1) and proc.stdout.startswith("["), f"kube-score failed:\n{proc.stderr}"
    report = Report(checks=0)
    for obj in json.loads(proc.stdout):
        kind, name = obj["type_meta"]["kind"], obj["object_meta"]["name"]
        for check in obj["checks"]:
            if check["skipped"]:
                continue
            report.checks += 1
            if check["grade"] < _KUBE_SCORE_OK:
                comments = check["comments"] or [{"path": "", "summary": check["check"]["name"]}]
                report.findings += [Finding("kube-score", check["check"]["id"], kind, name, c["path"], c["summary"])
                                    for c in comments]
    return report


def kubeconform(manifest: Path, schemas: Path, templates: tuple[str, ...], kube_version: str) -> Report:
    """kubeconform -strict at one Kubernetes version, against the local schemas only; an object
    without a schema is a finding, not a skip."""
    locations = [arg for t in templates for arg in ("-schema-location", f"{schemas}/{t}")]
    proc = run([scanner(BIN / "kubeconform"), "-strict", "-summary", "-verbose", "-output", "json",
                "-kubernetes-version", f"{kube_version}.0", *locations, manifest], check=False)
    assert proc.returncode in (0, 1) and proc.stdout.startswith("{"), f"kubeconform failed:\n{proc.stderr}"
    out = json.loads(proc.stdout)
    report = Report(checks=0)
    for res in out["resources"]:
        report.checks += 1
        status = res["status"].removeprefix("status").lower()
        if status != "valid":
            errors = [f"{e['path']}: {e['msg']}" for e in res.get("validationErrors") or []] or [res.get("msg", "")]
            report.findings += [Finding("kubeconform", status, res["kind"], res["name"], "", e) for e in errors]
    return report


def checkov(folder: Path) -> dict[str, Report]:
    """checkov's Kubernetes checks on every *.yaml in folder, in one process, offline: no API key,
    --skip-download, and run in a network namespace of its own (nothing to reach). Returns a
    Report per file stem."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_", "CKV_", "CHECKOV_"))}
    offline = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--net", "--map-root-user"]
    proc = run([*offline, scanner(CHECKOV), "--directory", folder, "--framework", "kubernetes", "--skip-download",
                "--output", "json"], env, check=False, timeout=600)
    assert proc.returncode in (0, 1) and proc.stdout.lstrip().startswith(("{", "[")), \
        f"checkov failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    out = json.loads(proc.stdout)
    out = out[0] if isinstance(out, list) else out
    assert out.get("summary", out).get("parsing_errors", 0) == 0, f"checkov could not parse: {out}"
    reports = {p.stem: Report(checks=0) for p in folder.glob("*.yaml")}
    results = out.get("results", {})
    for status in ("passed_checks", "failed_checks", "skipped_checks"):
        for result in results.get(status, []):
            report = reports[Path(result["file_path"]).stem]
            report.checks += 1
            if status != "passed_checks":
                kind, _, name = result["resource"].partition(".")
                name = name.partition(".")[2]  # Kind.namespace.name
                report.findings.append(Finding("checkov", result["check_id"], kind, name, "", result["check_name"]))
    return reports
