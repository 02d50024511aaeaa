"""Release lifecycle on the embedded control plane: upgrade, rollback, uninstall, helm test."""
from __future__ import annotations

import json

import pytest

from .controlplane import names

pytestmark = pytest.mark.cluster

WAIT = ("--wait", "--timeout", "120s")
DIST = ("--set", "mode=distributed")


def images(pods):
    return {next(c["image"] for c in p["spec"]["containers"] if c["name"] == "pytorch") for p in pods}


def revision(cluster, release, ns):
    return json.loads(cluster.helm("status", release, "-n", ns, "-o", "json").stdout)["version"]


def test_upgrade_rollback_uninstall(cluster, namespace, chart):
    ns = namespace()
    sel = "app.kubernetes.io/instance=life"
    cluster.helm("install", "life", chart, "-n", ns, *DIST, "--set", "worldSize=2", *WAIT)
    pods = cluster.wait_pods_running(ns, sel, 2)
    (old_image,) = images(pods)
    new_tag = "2.9.1-cuda12.8-cudnn9-runtime"
    assert not old_image.endswith(new_tag)

    # worldSize 2 -> 4 and a new image tag: replicas and the pod template change,
    # nothing immutable (selector, serviceName, volumeClaimTemplates) does.
    up = cluster.helm("upgrade", "life", chart, "-n", ns, *DIST, "--set", "worldSize=4",
                      "--set", f"image.tag={new_tag}", *WAIT)
    assert "immutable" not in up.stderr.lower() and "forbidden" not in up.stderr.lower()
    pods = cluster.wait_for("4 ranks on the new image", lambda: (
        p if len(p := cluster.wait_pods_running(ns, sel, 4)) == 4 and images(p) == {old_image.rsplit(":", 1)[0] + ":" + new_tag}
        else None), 120)
    container = next(c for c in pods[0]["spec"]["containers"] if c["name"] == "pytorch")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["WORLD_SIZE"] == "4"
    assert revision(cluster, "life", ns) == 2

    back = cluster.helm("rollback", "life", "1", "-n", ns, *WAIT)
    assert "immutable" not in back.stderr.lower()
    pods = cluster.wait_for("2 ranks on the old image", lambda: (
        p if images(p := cluster.wait_pods_running(ns, sel, 2)) == {old_image} else None), 120)
    assert names(pods) == ["life-pytorch-0", "life-pytorch-1"]
    sts = cluster.get("statefulset", "life-pytorch", "-n", ns)
    assert sts["spec"]["replicas"] == 2
    assert revision(cluster, "life", ns) == 3

    # Per-rank claims come from volumeClaimTemplates: the StatefulSet controller
    # created data-life-pytorch-{0..3}; scale-down and uninstall keep them
    # (persistentVolumeClaimRetentionPolicy Retain), so rank data survives.
    cluster.helm("uninstall", "life", "-n", ns, "--wait", "--timeout", "120s")
    cluster.wait_for("pods gone", lambda: cluster.pods(ns, sel) == [], 60)
    assert cluster.get("statefulsets", "-n", ns)["items"] == []
    pvcs = cluster.get("pvc", "-n", ns)["items"]
    assert names(pvcs) == [f"data-life-pytorch-{i}" for i in range(4)]
    assert {p["status"]["phase"] for p in pvcs} == {"Bound"}


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
def test_helm_test_hook(cluster, namespace, chart, mode):
    """`helm test` runs templates/tests/test-master-address.yaml; kwok's stage
    pod-complete-helm-test (hack/cluster/kwok-stages.yaml) completes pods annotated
    helm.sh/hook: test, as a container that exits 0 would."""
    ns = namespace()
    sets = list(DIST) + ["--set", "worldSize=2"] if mode == "distributed" else []
    cluster.helm("install", "hook", chart, "-n", ns, *sets, *WAIT)
    res = cluster.helm("test", "hook", "-n", ns, "--timeout", "60s")
    assert "Phase:          Succeeded" in res.stdout, res.stdout
    status = json.loads(cluster.helm("status", "hook", "-n", ns, "-o", "json").stdout)
    hooks = [h for h in status.get("hooks", []) if "test" in [str(e).lower() for e in h.get("events", [])]]
    assert hooks and all(h["last_run"]["phase"] == "Succeeded" for h in hooks), hooks


def test_should_delete_the_claims_of_removed_ranks_and_of_the_release_when_asked(cluster, namespace, chart):
    """persistentVolumeClaimRetentionPolicy Delete/Delete, carried out by the real StatefulSet
    controller and garbage collector (the default Retain is proven above)."""
    ns = namespace()
    sel = "app.kubernetes.io/instance=gone"
    policy = ("--set", "persistentVolumeClaimRetentionPolicy.whenScaled=Delete",
              "--set", "persistentVolumeClaimRetentionPolicy.whenDeleted=Delete")
    cluster.helm("install", "gone", chart, "-n", ns, *DIST, "--set", "worldSize=3", *policy, *WAIT)
    cluster.wait_pods_running(ns, sel, 3)
    assert names(cluster.get("pvc", "-n", ns)["items"]) == [f"data-gone-pytorch-{i}" for i in range(3)]

    cluster.helm("upgrade", "gone", chart, "-n", ns, *DIST, "--set", "worldSize=2", *policy, *WAIT)
    cluster.wait_for("rank 2's claim deleted", lambda: (
        names(c) == ["data-gone-pytorch-0", "data-gone-pytorch-1"] if (c := cluster.get("pvc", "-n", ns)["items"]) else False), 90)

    cluster.helm("uninstall", "gone", "-n", ns, "--wait", "--timeout", "120s")
    cluster.wait_for("every claim deleted", lambda: cluster.get("pvc", "-n", ns)["items"] == [], 90)
