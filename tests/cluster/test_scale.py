"""Time from `helm install` to every rank Running, for worldSize 4 and 64.

Each rank has its own claim (volumeClaimTemplates, provisioned by the hostPath
provisioner), is scheduled onto one of the simulated nodes and is made Running
by kwok. The figures are printed in the terminal summary and kept in
.cache/cluster/timings.json.
"""
from __future__ import annotations

import json
import time

import pytest

from harness.tools import ROOT

pytestmark = pytest.mark.cluster

TIMINGS: dict[str, float] = {}


@pytest.mark.parametrize("world_size", [4, 64])
def test_time_to_all_ranks_running(cluster, namespace, chart, world_size):
    ns = namespace()
    start = time.monotonic()
    cluster.helm("install", "scale", chart, "-n", ns, "--set", "mode=distributed",
                 "--set", f"worldSize={world_size}")
    installed = time.monotonic() - start
    pods = cluster.wait_pods_running(ns, "app.kubernetes.io/instance=scale", world_size,
                                     timeout=60 + 3 * world_size)
    running = time.monotonic() - start
    ranks = sorted(int(p["metadata"]["labels"]["apps.kubernetes.io/pod-index"]) for p in pods)
    assert ranks == list(range(world_size))
    claims = cluster.get("pvc", "-n", ns)["items"]
    assert len(claims) == world_size and {c["status"]["phase"] for c in claims} == {"Bound"}

    TIMINGS[f"worldSize={world_size}: all ranks Running"] = round(running, 2)
    TIMINGS[f"worldSize={world_size}: helm install returned"] = round(installed, 2)
    out = ROOT / ".cache" / "cluster" / "timings.json"
    old = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**old, **TIMINGS}, indent=2) + "\n")
    # Generous bound: a simulated rank costs a few API calls, not seconds.
    assert running < 30 + world_size


def summary_lines() -> list[str]:
    return [f"  {k:<45} {v:7.2f}s" for k, v in TIMINGS.items()]
