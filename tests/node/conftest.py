"""Fixtures of the node suite: the embedded control plane with a real node.

One control plane ("node") per test session, with no simulated nodes and one real
node (kubelet, containerd, runc, CNI bridge, CoreDNS, image registry) in its network
namespace: hack/cluster/node-up.sh, docs/node.md. Containers really run, from the
images hack/images/build.sh builds here, pulled from the namespace's own registry
through the chart's `global.imageRegistry`.

Each test installs its own release in its own namespace (Pod Security `restricted`
unless the test says otherwise); on failure the namespace's pods, container states,
events and last log lines are printed. Set CLUSTER_KEEP=1 to keep the cluster and the
namespaces (`hack/cluster/down.sh node` tears it down).
"""
from __future__ import annotations

import json
import os
import time

import pytest

from cluster.controlplane import ControlPlane, missing_binaries
from harness.images import chart_image_values, missing_images
from harness.tools import ROOT, tool

NODE_BINARIES = ("kubelet", "containerd", "containerd-shim-runc-v2", "coredns", "registry",
                 "cni/bridge", "cni/host-local", "cni/loopback")
STARTUP: dict[str, float] = {}


@pytest.fixture(scope="session")
def node_cluster():
    tool("helm")
    missing = missing_binaries() + [b for b in NODE_BINARIES if not os.access(ROOT / "bin" / b, os.X_OK)]
    if missing:
        pytest.fail(f"bin/{', bin/'.join(missing)} missing: run `make setup` in {ROOT} "
                    "(builds the control plane and the node from the Go module proxy)", pytrace=False)
    images = missing_images()
    if images:
        pytest.fail(f"images {', '.join(images)} are not built: run `make setup` (or `make images`) "
                    f"in {ROOT}", pytrace=False)
    cp = ControlPlane(name="node", nodes=0, real_node=True)
    try:
        cp.up(timeout=1200)
    except Exception:
        cp.down()
        raise
    STARTUP["node"] = cp.startup_seconds
    yield cp
    if os.environ.get("CLUSTER_KEEP") != "1":
        cp.down()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def namespace(node_cluster, request):
    """Factory: namespace(restricted=True) -> a fresh namespace (Pod Security `restricted`
    enforced unless restricted=False). On failure its state is printed; it is deleted after
    the test unless CLUSTER_KEEP=1."""
    namespaces = node_cluster.test_namespaces(request.node.name)
    yield namespaces.make
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for ns in namespaces.created:
            print(f"\n===== state of namespace {ns} at failure =====\n{node_cluster.dump(ns)}")
    namespaces.cleanup()


@pytest.fixture(scope="session")
def images() -> list[str]:
    """`--set` arguments that point the chart's images at the node's registry."""
    return chart_image_values()


class Release:
    """One `helm install` on the real node, with the values it was given."""

    def __init__(self, cluster: ControlPlane, ns: str, name: str, sets: list[str]):
        self.cluster, self.ns, self.name, self.sets = cluster, ns, name, sets
        self.installed_at = 0.0
        self.install_seconds = 0.0

    def install(self, *extra: str, wait: bool = True, timeout: str = "240s", chart: str | None = None,
                values: dict | None = None):
        """helm install with the release's --set values, then EXTRA (--set) and VALUES
        (`--set-json KEY=JSON`, for structures --set cannot spell)."""
        args = ["install", self.name, chart or str(ROOT), "-n", self.ns]
        for s in [*self.sets, *extra]:
            args += ["--set", s]
        if values:
            for key, value in values.items():
                args += ["--set-json", f"{key}={json.dumps(value)}"]
        if wait:
            args += ["--wait", "--timeout", timeout]
        self.installed_at = time.time()
        proc = self.cluster.helm(*args, timeout=600)
        self.install_seconds = time.time() - self.installed_at
        return proc

    def pods(self) -> list[dict]:
        pods = self.cluster.pods(self.ns, f"app.kubernetes.io/instance={self.name}")
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")
                and p["metadata"]["labels"].get("app.kubernetes.io/component") != "test"]


@pytest.fixture
def release(node_cluster, namespace, images):
    """Factory: release(*sets, restricted=True) -> a Release (not yet installed) in a fresh
    namespace, with the chart's images pointed at the node's registry."""
    def make(*sets: str, restricted: bool = True, name: str = "t") -> Release:
        return Release(node_cluster, namespace(restricted=restricted), name, [*images, *sets])
    return make


def pytest_terminal_summary(terminalreporter):
    from . import test_network_policy, test_preflight, test_training
    lines = [f"  {'control plane + real node up (' + k + ')':<50} {v:7.2f}s" for k, v in STARTUP.items()]
    lines += test_training.summary_lines()
    if lines:
        terminalreporter.write_sep("-", "real node timings")
        for line in lines:
            terminalreporter.write_line(line)
    matrix = test_network_policy.summary_lines()
    if matrix:
        terminalreporter.write_sep("-", "NetworkPolicy enforcement matrix (kube-router, real node)")
        for line in matrix:
            terminalreporter.write_line(line)
    preflight = test_preflight.summary_lines()
    if preflight:
        terminalreporter.write_sep("-", "helm test preflight: time to name each fault (real node)")
        for line in preflight:
            terminalreporter.write_line(line)
