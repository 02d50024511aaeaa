"""Fixtures of the cluster suite: one embedded control plane per test session.

The control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
kwok with two simulated nodes) runs in a network namespace of its own; see
docs/cluster.md. Set CLUSTER_KEEP=1 to leave it running after the session (the
next session then reuses it: hack/cluster/up.sh is idempotent), and tear it down
with `hack/cluster/down.sh test`.
"""
from __future__ import annotations

import os

import pytest

from harness.tools import ROOT

from .controlplane import ControlPlane, missing_binaries

STARTUP: dict[str, float] = {}   # control plane name -> seconds hack/cluster/up.sh took


@pytest.fixture(scope="session")
def cluster(helm_bin, cluster_worker):
    missing = missing_binaries()
    if missing:
        pytest.fail(f"bin/{', bin/'.join(missing)} missing: run `make setup` (or `make cluster-bins`) "
                    f"in {ROOT} to build the control plane from the Go module proxy", pytrace=False)
    # One control plane per xdist worker: each has its own state dir and netns.
    name = "test" if cluster_worker == "master" else f"test-{cluster_worker}"
    cp = ControlPlane(name=name, nodes=2)
    try:
        cp.up()
    except Exception:
        cp.down()
        raise
    STARTUP[name] = cp.startup_seconds
    yield cp
    if os.environ.get("CLUSTER_KEEP") != "1":
        cp.down()


@pytest.fixture(scope="session")
def cluster_worker(request):
    """xdist's worker id ("gw0", ...), or "master" without xdist."""
    return getattr(request.config, "workerinput", {}).get("workerid", "master")


@pytest.fixture
def namespace(cluster, request):
    """Factory: namespace(restricted=True) -> a fresh namespace, labelled
    pod-security.kubernetes.io/enforce=restricted unless restricted=False.
    Deleted after the test (without waiting)."""
    namespaces = cluster.test_namespaces(request.node.name)
    yield namespaces.make
    namespaces.cleanup()


@pytest.fixture
def chart():
    return str(ROOT)


def pytest_terminal_summary(terminalreporter):
    """Print the control plane start-up time and the time-to-Running figures."""
    from . import test_faulttolerance, test_gang, test_kueue, test_pause, test_previous_release, test_scale
    lines = [f"  {'control plane ' + k + ' up (hack/cluster/up.sh)':<45} {v:7.2f}s" for k, v in STARTUP.items()]
    lines += test_scale.summary_lines()
    lines += test_previous_release.summary_lines()
    lines += [f"  {k:<45} {v:7.2f}s" for k, v in {**test_kueue.TIMINGS, **test_faulttolerance.TIMINGS, **test_gang.TIMINGS, **test_pause.TIMINGS}.items()]
    if lines:
        terminalreporter.write_sep("-", "embedded control plane timings")
        for line in lines:
            terminalreporter.write_line(line)
