"""Kubernetes' own gang (gangScheduling.provider=kubernetes) against the real kube-scheduler.

Level: real scheduler (its GangScheduling plugin; hack/cluster/up.sh turns on the feature gate
GenericWorkload and scheduling.k8s.io/v1beta1), simulated nodes and pods. Room is counted in an
extended resource that only this test asks for, pytorch-chart.test/slot (the ranks ask for it
through gpu.resourceName and gpu.count), so the other tests' pods on the shared control plane
take none of it.
"""
from __future__ import annotations

import time
from datetime import datetime

import pytest

from harness.tools import ROOT

from .controlplane import names

pytestmark = pytest.mark.cluster

SLOT = "pytorch-chart.test/slot"
NODES = ("kwok-node-0", "kwok-node-1")
HOLD = ("--set-string", "podAnnotations.kwok\\.pytorch-chart\\.test/hold-running=true")   # kwok keeps a Job's pods Running
WAIT_S = 120      # how long a gang that does not fit must stay unbound
BIND_S = 10       # how soon a gang must be bound once it fits
TIMINGS: dict[str, float] = {}   # printed by tests/cluster/conftest.py


def slots(n: int) -> tuple[str, ...]:
    return (f"gpu.resourceName={SLOT}", f"gpu.count={n}", "persistence.enabled=false")


GANG = ("mode=distributed", "worldSize=3", "gangScheduling.enabled=true", "gangScheduling.provider=kubernetes",
        *slots(1))
JOB = ("job.enabled=true", "entrypoint.file=/workspace/train.py")


@pytest.fixture
def room(cluster):
    """Three slots on each kwok node; taken away again after the test."""
    cluster.set_node_resource(SLOT, dict.fromkeys(NODES, 3))
    yield
    cluster.set_node_resource(SLOT, dict.fromkeys(NODES))


def install(cp, ns, release, *sets, wait=False, extra=()):
    args = ["install", release, str(ROOT), "-n", ns, *(["--wait", "--timeout", "60s"] if wait else []), *extra]
    for s in sets:
        args += ["--set", s]
    cp.helm(*args)


def test_should_bind_no_rank_of_a_gang_until_every_rank_fits(cluster, namespace, room):
    """Six slots. Release b (2 ranks of 2 slots) leaves one slot on each node: room for 2 ranks of
    gangs s (StatefulSet) and j (Indexed Job) of 3 ranks each. For 120 s neither binds a rank,
    while a small release c schedules and a StatefulSet that turns the gang on by upgrade is stuck
    on its replaced rank. When b is uninstalled both gangs bind every rank at once."""
    ns = namespace()
    install(cluster, ns, "b", "mode=distributed", "worldSize=2", *slots(2), wait=True)
    install(cluster, ns, "s", *GANG)
    install(cluster, ns, "j", *GANG, *JOB, extra=HOLD)
    gangs = {g: f"app.kubernetes.io/instance={g}" for g in ("s", "j")}

    def gang_pods(g):
        return [p for p in cluster.pods(ns, gangs[g]) if not p["metadata"].get("deletionTimestamp")]

    def bound(g):
        return [p["metadata"]["name"] for p in gang_pods(g) if p["spec"].get("nodeName")]

    uids = cluster.wait_for("both gangs' 3 pods created", lambda: (
        {p["metadata"]["uid"] for g in gangs for p in gang_pods(g)} if all(len(gang_pods(g)) == 3 for g in gangs)
        else None), 60)
    t0 = time.monotonic()

    # While the gangs wait, the scheduler goes on with other pods: a small release schedules ...
    install(cluster, ns, "c", "persistence.enabled=false", wait=True)
    TIMINGS["gang: small release c Running while the gangs wait"] = time.monotonic() - t0
    # ... and a running StatefulSet that turns the gang on by upgrade replaces its last rank,
    # whose gang of 2 never fills: the rolling update stops there (hence NOTES: install it so).
    install(cluster, ns, "u", "mode=distributed", "worldSize=2", "persistence.enabled=false", wait=True)
    cluster.helm("upgrade", "u", str(ROOT), "-n", ns, "--reuse-values", "--set", "gangScheduling.enabled=true",
                 "--set", "gangScheduling.provider=kubernetes")

    while (left := WAIT_S - (time.monotonic() - t0)) > 0:
        assert not bound("s") and not bound("j"), (bound("s"), bound("j"))
        time.sleep(min(2.0, left))
    now = {p["metadata"]["uid"] for g in gangs for p in gang_pods(g)}
    assert now == uids and not bound("s") and not bound("j")    # the same pods, none bound for 120 s
    for g in gangs:
        cond = next(c for c in cluster.get("podgroups.scheduling.k8s.io", f"{g}-pytorch", "-n", ns)["status"]["conditions"]
                    if c["type"] == "PodGroupInitiallyScheduled")
        assert cond["status"] == "False" and cond["reason"] == "Unschedulable", cond
        assert "minCount (3) cannot be satisfied: 2 scheduled, 0 remaining" in cond["message"], cond
    u = {p["metadata"]["name"]: p for p in cluster.pods(ns, "app.kubernetes.io/instance=u")}
    assert u["u-pytorch-0"]["status"]["phase"] == "Running" and "schedulingGroup" not in u["u-pytorch-0"]["spec"]
    assert u["u-pytorch-1"]["spec"]["schedulingGroup"] == {"podGroupName": "u-pytorch"}
    assert not u["u-pytorch-1"]["spec"].get("nodeName")
    TIMINGS["gang: no rank bound (s and j, room for 2 of 3)"] = time.monotonic() - t0

    start = time.monotonic()
    cluster.helm("uninstall", "b", "-n", ns, "--wait", "--timeout", "60s")
    cluster.wait_for("both gangs bound", lambda: all(len(bound(g)) == 3 for g in gangs), BIND_S)
    TIMINGS["gang: b uninstalled -> 6 ranks of s and j bound"] = time.monotonic() - start
    for g in gangs:
        scheduled = {next(c["lastTransitionTime"] for c in p["status"]["conditions"] if c["type"] == "PodScheduled")
                     for p in gang_pods(g)}
        spread = [datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in scheduled]
        assert max(spread) - min(spread) <= 1, scheduled    # every rank of a gang bound at once

    # A gang that is bound takes a rolling update: each replaced rank joins a gang that is full.
    cluster.helm("upgrade", "s", str(ROOT), "-n", ns, "--reuse-values", "--set-string", "podAnnotations.rev=2",
                 "--wait", "--timeout", "60s")
    assert {p["metadata"]["annotations"].get("rev") for p in gang_pods("s")} == {"2"}
    assert names(gang_pods("s")) == sorted(bound("s"))
