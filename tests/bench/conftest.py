"""Fixtures of the benchmark slice: a control plane of its own, started by hack/bench/up.sh.

It is the embedded control plane of tests/cluster with the benchmark's kwok (pods stay
Running, Job-owned ones too) and two simulated nodes; no peer controllers. Set CLUSTER_KEEP=1
to leave it running (hack/cluster/down.sh bench-slice stops it).
"""
from __future__ import annotations

import os

import pytest

from cluster.controlplane import missing_binaries
from harness.tools import ROOT, tool

from .measure import BenchCluster

FIGURES: list[str] = []   # lines for the terminal summary


@pytest.fixture(scope="session")
def bench_cluster(request):
    tool("helm")
    missing = missing_binaries()
    if missing:
        pytest.fail(f"bin/{', bin/'.join(missing)} missing: run `make setup` (or `make cluster-bins`) in {ROOT}",
                    pytrace=False)
    worker = getattr(request.config, "workerinput", {}).get("workerid", "master")
    cp = BenchCluster(name="bench-slice" if worker == "master" else f"bench-slice-{worker}", nodes=2)
    try:
        cp.up()
    except Exception:
        cp.down()
        raise
    FIGURES.append(f"  {'control plane ' + cp.name + ' up (hack/bench/up.sh)':<52} {cp.startup_seconds:7.2f}s")
    yield cp
    if os.environ.get("CLUSTER_KEEP") != "1":
        cp.down()


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.write_sep("-", "benchmark slice (docs/bench.md)")
        for line in FIGURES:
            terminalreporter.write_line(line)
