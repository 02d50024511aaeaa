"""Resize in place on the embedded control plane (API server and controllers, kwok pods):
with faultTolerance.maxNodes (torchrun elastic rendezvous, StatefulSet) `helm upgrade
--reuse-values --set worldSize=3` on a 2-rank run adds rank 2 and leaves ranks 0 and 1 as they
were (same pods, same restart counts, the same StatefulSet revision); above maxNodes the upgrade
is refused in one line before anything is sent. That the new rank joins the running ranks'
rendezvous and the training goes on at the new size is proven on the real node
(tests/node/test_resize_pause.py)."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.cluster

RESIZABLE = ("mode=distributed", "worldSize=2", "launcher=torchrun", "examples.enabled=true",
             "faultTolerance.enabled=true", "faultTolerance.maxNodes=4", "persistence.enabled=false")
SELECTOR = "app.kubernetes.io/instance=grow"


def sets(*values: str) -> list[str]:
    return [arg for v in values for arg in ("--set", v)]


def by_name(pods: list[dict]) -> dict[str, tuple[str, int]]:
    return {p["metadata"]["name"]: (p["metadata"]["uid"], p["status"]["containerStatuses"][0]["restartCount"]) for p in pods}


def test_should_add_a_rank_and_leave_the_running_ranks_alone(cluster, namespace, chart):
    ns = namespace()
    cluster.helm("install", "grow", chart, "-n", ns, *sets(*RESIZABLE))
    before = by_name(cluster.wait_pods_running(ns, SELECTOR, 2))
    sts = cluster.get("statefulset", "grow-pytorch", "-n", ns)

    cluster.helm("upgrade", "grow", chart, "-n", ns, "--reuse-values", "--set", "worldSize=3")
    after = by_name(cluster.wait_pods_running(ns, SELECTOR, 3))
    assert {k: v for k, v in after.items() if k in before} == before
    assert sorted(after) == ["grow-pytorch-0", "grow-pytorch-1", "grow-pytorch-2"]
    grown = cluster.get("statefulset", "grow-pytorch", "-n", ns)
    assert grown["spec"]["template"] == sts["spec"]["template"] and grown["spec"]["replicas"] == 3
    assert grown["metadata"]["uid"] == sts["metadata"]["uid"]
    assert cluster.wait_for("the controller to settle", lambda: (s := cluster.get("statefulset", "grow-pytorch", "-n", ns))[
        "status"].get("observedGeneration") == s["metadata"]["generation"] and s, 60)["status"]["updateRevision"] == \
        sts["status"]["updateRevision"]

    proc = cluster.helm("upgrade", "grow", chart, "-n", ns, "--reuse-values", "--set", "worldSize=5", check=False)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("level=")]
    assert any("worldSize: 5 is more than faultTolerance.maxNodes=4, the most pods the ranks' rendezvous takes; raise "
               "faultTolerance.maxNodes too (every rank restarts once, with the new maximum), or keep worldSize at "
               "most 4" in line for line in lines), lines
    assert by_name(cluster.wait_pods_running(ns, SELECTOR, 3)) == after
    history = json.loads(cluster.helm("history", "grow", "-n", ns, "-o", "json").stdout)
    assert [(h["revision"], h["status"]) for h in history] == [(1, "superseded"), (2, "deployed")]
