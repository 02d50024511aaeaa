"""Persistence on the real node.

Proves (running containers): a rank's data survives the deletion of its pod (the new pod
has the same rank and the same claim); volumePermissions makes a root-owned volume (a
hostPath volume of the "standard" class, which gets no fsGroup) writable for uid 1001.
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.node


def test_should_keep_rank_2_data_across_a_pod_deletion(release, node_cluster):
    r = release("mode=distributed", "worldSize=3")
    r.install()
    old = next(p for p in r.pods() if p["metadata"]["name"] == "t-pytorch-2")
    node_cluster.exec(r.ns, "t-pytorch-2", "sh", "-c", 'echo "written by rank $RANK" > /data/marker')
    node_cluster.kubectl("delete", "pod", "t-pytorch-2", "-n", r.ns, "--wait=true")

    def replaced():
        pods = [p for p in r.pods() if p["metadata"]["name"] == "t-pytorch-2"
                and p["metadata"]["uid"] != old["metadata"]["uid"]]
        return pods and pods[0]["status"].get("containerStatuses", [{}])[0].get("ready") and pods[0]
    new = node_cluster.wait_for("rank 2's new pod to be Ready", replaced, timeout=120)
    out = node_cluster.exec(r.ns, "t-pytorch-2", "sh", "-c", 'echo "rank $RANK"; cat /data/marker').stdout
    assert out.splitlines() == ["rank 2", "written by rank 2"]
    claim = lambda p: next(v["persistentVolumeClaim"]["claimName"] for v in p["spec"]["volumes"] if v["name"] == "data")  # noqa: E731
    assert claim(new) == claim(old) == "data-t-pytorch-2"


@pytest.mark.parametrize("permissions", [False, True], ids=["without", "with"])
def test_should_make_a_root_owned_volume_writable_only_with_volume_permissions(release, node_cluster, permissions):
    r = release("persistence.storageClass=standard", f"volumePermissions.enabled={str(permissions).lower()}",
                restricted=False)
    r.install()
    [pod] = r.pods()
    out = node_cluster.exec(r.ns, pod["metadata"]["name"], "sh", "-c",
                            "stat -c '%u:%g %a' /data; touch /data/x 2>&1; echo rc=$?", check=False).stdout.splitlines()
    if permissions:
        assert out == ["1001:1001 750", "rc=0"]
        [init] = pod["status"]["initContainerStatuses"]
        assert init["name"] == "volume-permissions" and init["state"]["terminated"]["exitCode"] == 0
    else:
        assert out[0] == "0:0 750"
        assert "Permission denied" in out[1] and out[-1] == "rc=1"
