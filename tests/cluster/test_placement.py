"""exclusiveTopology against the real kube-scheduler, on kwok nodes labelled as racks.

Level: real scheduler (required pod affinity and anti-affinity), simulated nodes and pods.
A control plane of its own with four kwok nodes, two per rack, so that no other test's pods
share the racks.
"""
from __future__ import annotations

import os

import pytest

from harness.tools import ROOT

from .controlplane import ControlPlane

pytestmark = pytest.mark.cluster

RACK = "topology.example.com/rack"
NODES = {"kwok-node-0": "rack-a", "kwok-node-1": "rack-a", "kwok-node-2": "rack-b", "kwok-node-3": "rack-b"}
EXCLUSIVE = ("mode=distributed", "worldSize=2", "persistence.enabled=false", "exclusiveTopology.enabled=true",
             f"exclusiveTopology.topologyKey={RACK}")


@pytest.fixture(scope="module")
def racks(cluster_worker, helm_bin):
    cp = ControlPlane(name="racks" if cluster_worker == "master" else f"racks-{cluster_worker}", nodes=len(NODES))
    try:
        cp.up()
        for node, rack in NODES.items():
            cp.kubectl("label", "node", node, f"{RACK}={rack}", "--overwrite")
    except Exception:
        cp.down()
        raise
    yield cp
    if os.environ.get("CLUSTER_KEEP") != "1":
        cp.down()


def install(cp, ns, release, *sets):
    args = ["install", release, str(ROOT), "-n", ns]
    for s in sets:
        args += ["--set", s]
    cp.helm(*args)


def placed(cp, ns, release, count):
    """{pod: rack} once all `count` pods of the release are scheduled."""
    pods = cp.pods(ns, f"app.kubernetes.io/instance={release}")
    if len(pods) != count or not all(p["spec"].get("nodeName") for p in pods):
        return None
    return {p["metadata"]["name"]: NODES[p["spec"]["nodeName"]] for p in pods}


def unschedulable(cp, ns, release, count):
    """The scheduler's messages, once all `count` pods of the release were found unschedulable."""
    pods = cp.pods(ns, f"app.kubernetes.io/instance={release}")
    conds = [next((c for c in p["status"].get("conditions", []) if c["type"] == "PodScheduled"), None) for p in pods]
    if len(pods) != count or not all(c and c["status"] == "False" and c.get("reason") == "Unschedulable" for c in conds):
        return None
    return [c["message"] for c in conds]


def test_should_give_each_release_a_rack_of_its_own_and_keep_others_out(racks):
    ns = racks.create_namespace("racks")
    install(racks, ns, "a", *EXCLUSIVE)
    a = racks.wait_for("a's ranks scheduled", lambda: placed(racks, ns, "a", 2), 60)
    assert len(set(a.values())) == 1, a                       # one rack holds every rank of a
    install(racks, ns, "b", *EXCLUSIVE)
    b = racks.wait_for("b's ranks scheduled", lambda: placed(racks, ns, "b", 2), 60)
    assert len(set(b.values())) == 1 and set(b.values()) != set(a.values()), (a, b)

    # Both racks are taken: a third exclusive release, and a release that does not ask for
    # exclusivity, find no node (the other releases' anti-affinity keeps them out).
    install(racks, ns, "c", *EXCLUSIVE)
    install(racks, ns, "d", "persistence.enabled=false")
    for release, count in (("c", 2), ("d", 1)):
        messages = racks.wait_for(f"{release} unschedulable", lambda: unschedulable(racks, ns, release, count), 60)
        assert all("0/4 nodes are available" in m and "anti-affinity" in m for m in messages), messages

    # d goes first: with both c and d waiting when a goes, the scheduler's queue order would decide
    # which of them takes a's rack, and d there would keep c out for good (3 of 32 runs with the
    # GenericWorkload gate on, which the control plane turns on; docs/cluster.md).
    racks.helm("uninstall", "d", "-n", ns, "--wait", "--timeout", "60s")
    racks.helm("uninstall", "a", "-n", ns, "--wait", "--timeout", "60s")
    c = racks.wait_for("c's ranks scheduled into a's rack", lambda: placed(racks, ns, "c", 2), 60)
    assert set(c.values()) == set(a.values()), (a, c)
    install(racks, ns, "e", "persistence.enabled=false")     # c now holds that rack exclusively
    messages = racks.wait_for("e unschedulable", lambda: unschedulable(racks, ns, "e", 1), 60)
    assert all("0/4 nodes are available" in m and "anti-affinity" in m for m in messages), messages
