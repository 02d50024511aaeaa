"""The PodDisruptionBudget on the embedded control plane (level: API server, the real
disruption controller): a voluntary eviction of a rank is refused while the run is up."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.cluster

WAIT = ("--wait", "--timeout", "120s")


def evict(cluster, ns: str, pod: str):
    """POST an Eviction for POD (what `kubectl drain` does); the completed process."""
    body = json.dumps({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": ns}})
    return cluster.kubectl("create", "--raw", f"/api/v1/namespaces/{ns}/pods/{pod}/eviction", "-f", "-",
                           input=body, check=False)


def budget_observed(cluster, ns: str, name: str, healthy: int):
    pdb = cluster.get("pdb", name, "-n", ns)
    status = pdb.get("status", {})
    return (status.get("observedGeneration") == pdb["metadata"]["generation"]
            and status.get("currentHealthy") == healthy and pdb)


def test_should_refuse_to_evict_a_rank_while_the_run_is_up(cluster, namespace, chart):
    ns = namespace()
    cluster.helm("install", "pdb", chart, "-n", ns, "--set", "mode=distributed", "--set", "worldSize=5", *WAIT)
    cluster.wait_pods_running(ns, "app.kubernetes.io/instance=pdb", 5)
    pdb = cluster.wait_for("the budget's status", lambda: budget_observed(cluster, ns, "pdb-pytorch", 5), 60)
    assert pdb["status"]["disruptionsAllowed"] == 0 and pdb["status"]["expectedPods"] == 5

    refused = evict(cluster, ns, "pdb-pytorch-3")
    assert refused.returncode != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget" in refused.stderr, refused.stderr
    assert cluster.get("pod", "pdb-pytorch-3", "-n", ns)["metadata"].get("deletionTimestamp") is None


def test_should_let_a_rank_be_evicted_without_the_budget(cluster, namespace, chart):
    ns = namespace()
    cluster.helm("install", "free", chart, "-n", ns, "--set", "mode=distributed", "--set", "worldSize=3",
                 "--set", "pdb.create=false", *WAIT)
    cluster.wait_pods_running(ns, "app.kubernetes.io/instance=free", 3)
    assert cluster.get("pdb", "-n", ns)["items"] == []
    evicted = evict(cluster, ns, "free-pytorch-1")
    assert evicted.returncode == 0, evicted.stderr
