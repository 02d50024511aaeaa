"""Fixtures of the runtime suite: real torch processes started from the rendered pods.

Needs (all from `make setup`): bin/helm, and torch in .venv (the `test` dependency group).
Needs root for the namespaces (see nsrun.py); elsewhere the suite fails with the reason.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from harness.tools import ROOT, tool
from runtime import podsim


@pytest.fixture(scope="session")
def runtime_ready() -> Path:
    """The venv's bin/ (where `python` and `torch` resolve); fails with the reason when missing."""
    tool("helm")  # fails with "run make setup" when bin/helm is missing
    if importlib.util.find_spec("torch") is None:
        pytest.fail(f"torch is not installed in {sys.prefix}: run `make setup` (or `make venv`) in {ROOT}",
                    pytrace=False)
    problem = podsim.sandbox_problem()
    if problem:
        pytest.fail(f"{problem} (the runtime suite needs root for its network, mount and PID namespaces; "
                    "run `make test` as root, as CI does)", pytrace=False)
    return Path(sys.executable).parent


@pytest.fixture
def world_dir():
    """A temp dir for one world's volumes and logs (mode 0755: pods may run as another user).
    Removed afterwards unless PODSIM_KEEP=1."""
    d = Path(tempfile.mkdtemp(prefix="podsim-"))
    os.chmod(d, 0o755)
    yield d
    if os.environ.get("PODSIM_KEEP") == "1":
        print(f"podsim: kept {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the rendezvous figures the runtime tests recorded (record_property "podsim")."""
    rows, faults, autopsies = [], [], []
    for reports in terminalreporter.stats.values():
        for rep in reports:
            if getattr(rep, "when", None) != "call":
                continue
            for key, value in getattr(rep, "user_properties", []):
                if key == "podsim":
                    rows.append((rep.nodeid.split("::")[-1], value))
                elif key == "faults":
                    faults.append((rep.nodeid.split("::")[-1], value))
                elif key == "autopsy":
                    autopsies.append((rep.nodeid.split("::")[-1], value))
    if faults:
        terminalreporter.section("runtime: ranks killed or hung (test_fault_tolerance.py)")
        for name, v in sorted(faults):
            terminalreporter.write_line(f"{name}: {v}")
    if autopsies:
        terminalreporter.section("runtime: stack autopsy (test_autopsy.py)")
        for name, v in sorted(autopsies):
            terminalreporter.write_line(f"{name}: {v}")
    if not rows:
        return
    terminalreporter.section("runtime: rendezvous of the rendered pods (real torch, gloo, loopback)")
    terminalreporter.write_line(f"{'test':48} {'pods':>4} {'procs':>5} {'rendezvous_s':>12} {'window_s':>9} "
                                f"{'joined_s':>9} {'world_s':>8}")
    for name, v in sorted(rows):
        terminalreporter.write_line(f"{name[:48]:48} {v['pods']:>4} {v['processes']:>5} {v['rendezvous_s']:>12.3f} "
                                    f"{v['window_s']:>9.3f} {v['joined_after_launch_s']:>9.3f} {v['wall_s']:>8.1f}")
