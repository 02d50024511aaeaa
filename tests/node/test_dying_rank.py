"""A dying rank on the real node: what the group does today (docs/node.md, "A dying rank").

The experiment: a StatefulSet of 3 ranks trains with the example script; once every rank
is training, rank 1's process is killed with SIGKILL from the host (as the kernel's OOM
killer would), and the test records who restarts and how long until every rank has joined
a new process group. This is the starting point for fault tolerance, not a guarantee of it.
"""
from __future__ import annotations

import glob
import os
import signal
import time
from datetime import datetime

import pytest

from .test_training import TIMINGS

pytestmark = pytest.mark.node

JOINED = "joined the process group"


def container_pids(cgroup_root: str, container_id: str) -> list[int]:
    """Host pids of a container, from its cgroup (cgroupfs driver, v1 pids hierarchy)."""
    paths = glob.glob(f"/sys/fs/cgroup/pids/{cgroup_root}/**/{container_id}/cgroup.procs", recursive=True)
    assert len(paths) == 1, paths
    return [int(p) for p in open(paths[0]).read().split()]


def test_should_restart_every_rank_when_one_rank_is_killed(release, node_cluster):
    r = release("mode=distributed", "worldSize=3", "examples.enabled=true",
                "entrypoint.args=--epochs 400 --steps 5 --step-seconds 0.02")
    r.install()
    logs = lambda name: node_cluster.logs(r.ns, name)  # noqa: E731
    names = [f"t-pytorch-{i}" for i in range(3)]
    node_cluster.wait_for("every rank training", lambda: all("epoch 3/400" in logs(n) for n in names), timeout=180)

    pod = next(p for p in r.pods() if p["metadata"]["name"] == "t-pytorch-1")
    cid = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    killed_at = time.time()
    for pid in container_pids(node_cluster.netns, cid):
        os.kill(pid, signal.SIGKILL)

    def statuses() -> dict[str, dict]:
        return {p["metadata"]["name"]: p["status"]["containerStatuses"][0] for p in r.pods()}

    def training_again():
        st = statuses()
        return all(st.get(n, {}).get("restartCount", 0) >= 1 and "epoch 1/400 step 5 " in logs(n)
                   for n in names) and st
    st = node_cluster.wait_for("every rank to restart and train again", training_again, timeout=240)
    TIMINGS["rank 1 killed -> all 3 ranks training again"] = time.time() - killed_at

    # Rank 1 died of the SIGKILL and was restarted by the kubelet at once.
    assert st["t-pytorch-1"]["lastState"]["terminated"]["exitCode"] == 137
    # The survivors did not notice the death by themselves: they sat in the collective until
    # a connection of theirs was reset (gloo: "Connection reset by peer"), then exited 1 and
    # were restarted. Nothing told them sooner; how long they sat is recorded.
    for name in ("t-pytorch-0", "t-pytorch-2"):
        last = st[name]["lastState"]["terminated"]
        assert last["exitCode"] == 1, last
        previous = node_cluster.logs(r.ns, name, previous=True)
        assert "epoch 3/400" in previous and "DDP_RESULT" not in previous, name
        assert "Connection reset by peer" in previous or "Connection closed by peer" in previous, previous[-2000:]
        died = datetime.fromisoformat(last["finishedAt"].replace("Z", "+00:00")).timestamp()
        TIMINGS[f"rank 1 killed -> {name} exited"] = died - killed_at
    assert {n: s["restartCount"] for n, s in st.items()} == {n: 1 for n in names}
    # The new group trains from step 0 again: the example script does not resume.
    for name in names:
        current = logs(name)
        assert current.count(JOINED) == 1 and "epoch 1/400 step 5 " in current
