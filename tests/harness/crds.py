"""The CRDs the suites validate against and install, by name (<plural>.<group>).

- The PodMonitor CRD is the real one, read from the Prometheus Operator module in Go's module
  cache (PROMETHEUS_OPERATOR_VERSION of hack/versions.env; `make prometheus` downloads it); it is
  never copied into the repository.
- The PodGroup CRDs are the minimal ones written for the tests in tests/data/crds/ (their owners'
  modules are not served by the Go module proxy).
"""
from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import pytest

from harness.tools import ROOT, pinned_versions

WRITTEN = ROOT / "tests" / "data" / "crds"
OPERATOR_MODULE = "github.com/prometheus-operator/prometheus-operator"
# Real CRDs, by name: their path inside the Prometheus Operator module.
OPERATOR_CRDS = {
    "podmonitors.monitoring.coreos.com": "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
}


@functools.lru_cache(maxsize=None)
def operator_dir() -> Path:
    """The Prometheus Operator module's folder in Go's module cache; fails the test with the
    command that downloads it."""
    version = pinned_versions()["PROMETHEUS_OPERATOR_VERSION"]
    proc = subprocess.run(["go", "mod", "download", "-json", f"{OPERATOR_MODULE}@{version}"],
                          capture_output=True, text=True, cwd=ROOT)
    info = json.loads(proc.stdout or "{}")
    if proc.returncode != 0 or not info.get("Dir"):
        pytest.fail(f"{OPERATOR_MODULE}@{version} is not in Go's module cache ({info.get('Error') or proc.stderr}): "
                    f"run `make setup` (or `make prometheus`) in {ROOT}", pytrace=False)
    return Path(info["Dir"])


def crd_files() -> dict[str, Path]:
    """Every CRD of the tests: name -> its file (the real ones in the module cache)."""
    files = {p.stem: p for p in sorted(WRITTEN.glob("*.yaml"))}
    files.update({name: operator_dir() / rel for name, rel in OPERATOR_CRDS.items()})
    return dict(sorted(files.items()))
