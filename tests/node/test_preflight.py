"""`helm test` in distributed mode: the preflight (files/tests/preflight.py, docs/preflight.md) on
the real node, under the chart's NetworkPolicy enforced by kube-router.

Proves (running containers, CoreDNS, a real NetworkPolicy agent): a healthy release of 3 ranks
passes with the default and the restricted policy values (the hook pod is a pod of the release to
the chart's own policy); each of five faults, injected one at a time, is named by its own line
and fails `helm test` within 30 s: a rank name that does not resolve (the headless Service
deleted), fewer ranks than worldSize (the StatefulSet scaled down), a rank that is not Ready (its
readiness probe fails), the master port blocked by a NetworkPolicy (the chart's policy replaced
by one that admits the ranks only: kube-router rejects with an ICMP error), and nothing
listening on the master port (the ranks sleep). The ranks run a small listener in place of
torch, so that each release starts in seconds; the master port is not the default one.
"""
from __future__ import annotations

import json
import time

import pytest

from .conftest import Release
from .test_network_policy import RESTRICTED, wait_enforced

pytestmark = pytest.mark.node

PORT, WORLD = 29613, 3
BUDGET = 30.0
# (case, helm test seconds, the program's own seconds): printed at the end of the run.
TIMINGS: list[tuple[str, float, str]] = []

# The ranks' program, from a ConfigMap mounted at /app: rank 0 listens on the master port, as
# torch's store does; every rank then stays up, and ends at once on SIGTERM (it runs as PID 1).
LISTEN = ("import os, signal, socket, sys, time\n"
          "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
          "if os.environ['RANK'] == '0':\n"
          "    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "    s.bind(('0.0.0.0', int(os.environ['MASTER_PORT']))); s.listen(64)\n"
          "    while True:\n"
          "        s.accept()[0].close()\n"
          "time.sleep(3600)\n")
RANKS = ("mode=distributed", f"worldSize={WORLD}", f"port={PORT}", "persistence.enabled=false")
LISTENING = (*RANKS, "configMap=ranks", "entrypoint.file=listen.py")


def summary_lines() -> list[str]:
    return [f"  {case:<44} helm test {seconds:6.2f}s   preflight {own}" for case, seconds, own in TIMINGS]


def listener_config(cluster, ns: str) -> None:
    cluster.apply(json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "ranks", "namespace": ns}, "data": {"listen.py": LISTEN}}))


def host(r: Release, rank: int) -> str:
    return f"t-pytorch-{rank}.t-pytorch-headless.{r.ns}.svc.cluster.local"


def ranks_ready(cluster, r: Release, ready: set[int]) -> None:
    """Until WORLD ranks run and exactly the ranks READY are Ready."""
    def state():
        pods = {int(p["metadata"]["name"].rsplit("-", 1)[1]): p for p in r.pods()}
        if sorted(pods) != list(range(WORLD)) or any(p["status"].get("phase") != "Running" for p in pods.values()):
            return None
        now = {i for i, p in pods.items() for c in p["status"].get("conditions", [])
               if c["type"] == "Ready" and c["status"] == "True"}
        return now == ready
    cluster.wait_for(f"{WORLD} ranks Running, ranks {sorted(ready)} Ready", state, 240, interval=0.5)


def helm_test(cluster, r: Release, case: str) -> tuple[int, str, float]:
    """`helm test --logs`; its exit status, output and seconds, kept for the summary."""
    start = time.monotonic()
    proc = cluster.helm("test", r.name, "-n", r.ns, "--logs", "--timeout", "90s", check=False, timeout=120)
    seconds = time.monotonic() - start
    out = proc.stdout + proc.stderr
    if "preflight: " not in out and proc.returncode != 0:
        # A failed hook pod is kept: its log, where helm printed none.
        out += cluster.kubectl("logs", "-n", r.ns, "t-pytorch-test-preflight", check=False).stdout
    own = [line.rsplit(" in ", 1)[1] for line in out.splitlines() if line.startswith("preflight: ")]
    TIMINGS.append((case, seconds, own[0] if own else "no summary line"))
    return proc.returncode, out, seconds


def findings(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("FAIL [")]


@pytest.mark.parametrize("values", ["default", "restricted"])
def test_should_pass_a_healthy_release_under_the_charts_policy(values, release, node_cluster):
    r = release(*LISTENING, *(RESTRICTED if values == "restricted" else ()))
    listener_config(node_cluster, r.ns)
    r.install(wait=False)
    ranks_ready(node_cluster, r, {0, 1, 2})
    wait_enforced(node_cluster, r.ns, [f"t-pytorch-{i}" for i in range(WORLD)])
    rc, out, seconds = helm_test(node_cluster, r, f"healthy ({values} policy)")
    assert rc == 0 and findings(out) == [], out
    assert "Phase:          Succeeded" in out, out
    assert f"ok   rank 0: {host(r, 0)}:{PORT} (10.245.0." in out and " accepts connections" in out, out
    assert f"ok   3 ranks have a pod behind t-pytorch-preflight-pods.{r.ns}.svc.cluster.local (worldSize 3)" in out, out
    # The ranks' Service publishes rank 0's name only (headlessService.allRanks=false).
    assert "ok   rank 0: Ready" in out and "ok   ranks 1..2: every pod with an address is Ready" in out, out
    assert f"preflight: no findings for {WORLD} ranks, master port {PORT}, in " in out, out
    assert seconds < BUDGET, out


def blocking_policy(ns: str) -> dict:
    """A policy over the ranks that admits the ranks only (the rank label), so the test pod is
    refused every port of rank 0, the master port included."""
    own = {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "t"}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "ranks-only", "namespace": ns},
            "spec": {"podSelector": {"matchLabels": own}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {
                         "matchLabels": own,
                         "matchExpressions": [{"key": "apps.kubernetes.io/pod-index", "operator": "Exists"}]}}]}]}}


def inject(fault: str, cluster, r: Release) -> None:
    """Install the release with FAULT in place (the ranks stay up), and wait until it shows."""
    if fault == "ready":
        # Rank 2's readiness probe fails; the others' passes.
        probe = {"exec": {"command": ["python", "-c", "import os, sys; sys.exit(os.environ['RANK'] == '2')"]},
                 "periodSeconds": 1, "failureThreshold": 1}
        r.install(wait=False, values={"customReadinessProbe": probe})
        ranks_ready(cluster, r, {0, 1})
        return
    extra = {"blocked": ("networkPolicy.enabled=false",), "listen": ("configMap=", "entrypoint.file=")}
    r.install(*extra.get(fault, ()), wait=False)
    ranks_ready(cluster, r, {0, 1, 2})
    if fault == "name":
        cluster.kubectl("delete", "service", "t-pytorch-headless", "-n", r.ns)
    elif fault == "ranks":
        cluster.kubectl("scale", "statefulset", "t-pytorch", "-n", r.ns, "--replicas=2")
        # Gone, not only terminating: a terminating pod keeps its name in DNS.
        cluster.wait_for("rank 2's pod gone", lambda: "t-pytorch-2" not in {
            p["metadata"]["name"] for p in cluster.pods(r.ns)}, 180, interval=0.5)
    elif fault == "blocked":
        cluster.apply(json.dumps(blocking_policy(r.ns)))
        wait_enforced(cluster, r.ns, [f"t-pytorch-{i}" for i in range(WORLD)])


FAULTS = {
    "name": lambda ns: [
        f"FAIL [name] rank {i}: t-pytorch-{i}.t-pytorch-headless.{ns}.svc.cluster.local does not resolve "
        f"(Name or service not known); likely cause: the headless Service t-pytorch-headless.{ns}.svc.cluster.local "
        "does not resolve either (Name or service not known): it is missing or selects no pod, or cluster DNS "
        "does not answer" for i in range(1)] + [
        f"FAIL [blocked] rank 0: t-pytorch-0.t-pytorch-headless.{ns}.svc.cluster.local:{PORT} not tried; "
        "likely cause: its name does not resolve (above)"],
    "ranks": lambda ns: [
        f"FAIL [ranks] 2 of worldSize 3 ranks have a pod behind t-pytorch-preflight-pods.{ns}.svc.cluster.local; "
        "likely cause: the workload has fewer pods than worldSize (scaled down, deleted, or "
        "Pending without an address: `kubectl get pods` and their events)"],
    "ready": lambda ns: [
        "FAIL [ready] 1 of the ranks without a published name (10.245.0.",
        ") not Ready; likely cause: their readiness probe fails or they are starting"],
    "blocked": lambda ns: [
        f"FAIL [blocked] rank 0: t-pytorch-0.t-pytorch-headless.{ns}.svc.cluster.local:{PORT} (10.245.0.",
        ") refused by a firewall: Connection refused (ICMP type 3 code 3 from 10.245.0.",
        "; likely cause: a NetworkPolicy (or firewall) blocks the master port to this pod"],
    "listen": lambda ns: [
        f"FAIL [listen] rank 0: t-pytorch-0.t-pytorch-headless.{ns}.svc.cluster.local:{PORT} (10.245.0.",
        ") refused: Connection refused (TCP reset); likely cause: nothing listens on the master port"],
}


@pytest.mark.parametrize("fault", FAULTS)
def test_should_name_each_fault_within_30_seconds(fault, release, node_cluster):
    """One fault per release; the findings are exactly the fault's lines (whole lines where they
    hold no pod address, else their fixed parts in order on one line)."""
    r = release(*LISTENING)
    listener_config(node_cluster, r.ns)
    inject(fault, node_cluster, r)
    rc, out, seconds = helm_test(node_cluster, r, f"fault: {fault}")
    assert rc != 0, out
    expected, found = FAULTS[fault](r.ns), findings(out)
    if fault in ("name", "ranks"):
        assert found == expected, out
    else:
        [line] = found
        at = 0
        for part in expected:
            at = line.index(part, at) + len(part)
    assert f"preflight: {len(found)} finding(s) for {WORLD} ranks, master port {PORT}, in " in out, out
    assert seconds < BUDGET, out
