"""Distributed training in real containers on the real node.

Proves (running containers): `worldSize` pods train together over the pod network with
the example DDP script; every rank reaches rank 0 at its stable DNS name through CoreDNS
and the headless Service before any pod is Ready (the readiness probe is held back by
60 s, so the name can only resolve because the headless Service publishes not-ready
addresses); every rank logs its losses; `launcher=torchrun` runs 2 pods x 2 processes.
(`helm test` in distributed mode, the preflight, is proven in test_preflight.py.)
"""
from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

pytestmark = pytest.mark.node

RESULT = "DDP_RESULT "
TIMINGS: dict[str, float] = {}


def summary_lines() -> list[str]:
    return [f"  {k:<50} {v:7.2f}s" for k, v in TIMINGS.items()]


def results(cluster, release, expected: int, timeout: float = 300) -> tuple[dict[str, str], list[dict]]:
    """Poll until `expected` DDP_RESULT lines are logged across the release's pods (from the
    current or, after a restart, the previous container); return (logs by pod, results)."""
    deadline = time.monotonic() + timeout
    while True:
        logs: dict[str, str] = {}
        for pod in release.pods():
            name = pod["metadata"]["name"]
            text = cluster.logs(release.ns, name)
            if RESULT not in text and pod["status"].get("containerStatuses", [{}])[0].get("restartCount"):
                text = cluster.logs(release.ns, name, previous=True)
            logs[name] = text
        found = [json.loads(line.split(RESULT, 1)[1]) for text in logs.values()
                 for line in text.splitlines() if RESULT in line]
        if len(found) >= expected:
            return logs, found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(found)}/{expected} ranks finished after {timeout}s:\n" +
                               "\n".join(f"--- {k}\n{v[-1500:]}" for k, v in logs.items()))
        time.sleep(1)


def ready_since(pod: dict) -> float | None:
    for c in pod["status"].get("conditions", []):
        if c["type"] == "Ready" and c["status"] == "True":
            return datetime.fromisoformat(c["lastTransitionTime"].replace("Z", "+00:00")).timestamp()
    return None


def test_should_train_four_ranks_that_find_rank_0_before_any_pod_is_ready(release, node_cluster):
    r = release("mode=distributed", "worldSize=4", "examples.enabled=true", "port=29611",
                "entrypoint.args=--epochs 3 --steps 4 --step-seconds 0.05",
                "readinessProbe.initialDelaySeconds=60")
    r.install(wait=False)
    logs, found = results(node_cluster, r, 4)
    master = f"t-pytorch-0.t-pytorch-headless.{r.ns}.svc.cluster.local"

    assert sorted(f["rank"] for f in found) == [0, 1, 2, 3]
    for f in found:
        assert f["ok"] is True and f["world_size"] == 4 and f["backend"] == "gloo"
        assert (f["master_addr"], f["master_port"]) == (master, "29611")
        assert f["allreduce_sum"] == 10.0 and f["params_in_sync"] is True and f["steps"] == 12
    assert {f["pod"] for f in found} == {f"t-pytorch-{i}" for i in range(4)}
    assert {f["rank"]: f["pod"] for f in found} == {i: f"t-pytorch-{i}" for i in range(4)}
    for name, text in logs.items():
        losses = [line for line in text.splitlines() if " mean loss " in line]
        assert [line.split("] ", 1)[1].split(" mean")[0] for line in losses] == \
            ["epoch 1/3 step 4", "epoch 2/3 step 8", "epoch 3/3 step 12"], name
    # Rank 0 saved its checkpoint on its claim: the non-root user can write it (fsGroup).
    [rank0] = [f for f in found if f["rank"] == 0]
    assert rank0["checkpoint"] == "/data/ddp_train.pt"

    # Every rank was past init_process_group before any pod was Ready.
    joined = max(f["t_init_end"] for f in found)
    ready = [ready_since(p) for p in r.pods()]
    assert all(t is None or t > joined for t in ready), (joined, ready)
    TIMINGS["helm install -> 4 ranks past init_process_group"] = joined - r.installed_at



def test_should_train_with_torchrun_two_pods_of_two_processes(release, node_cluster):
    r = release("mode=distributed", "worldSize=2", "launcher=torchrun", "torchrun.nprocPerNode=2",
                "examples.enabled=true", "entrypoint.args=--epochs 2 --steps 3")
    r.install(wait=False)
    logs, found = results(node_cluster, r, 4)
    assert sorted((f["rank"], f["local_rank"]) for f in found) == [(0, 0), (1, 1), (2, 0), (3, 1)]
    assert all(f["ok"] and f["world_size"] == 4 for f in found)
    # Ranks 0-1 run in pod 0, ranks 2-3 in pod 1 (node rank = pod ordinal).
    assert {f["rank"]: f["pod"] for f in found} == {0: "t-pytorch-0", 1: "t-pytorch-0",
                                                    2: "t-pytorch-1", 3: "t-pytorch-1"}
    TIMINGS["helm install -> 2x2 torchrun ranks past init"] = \
        max(f["t_init_end"] for f in found) - r.installed_at
