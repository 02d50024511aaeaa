"""The rendered pods really rendezvous: each pod's rendered command runs as a local process
with real torch (gloo, CPU), given what Kubernetes would give that pod (see podsim.py), and
every rank must join, get a unique rank 0..N-1, agree on an all_reduce, train, and exit 0
before the deadline.
"""
from __future__ import annotations

import pytest

from harness.render import render
from runtime import podsim

pytestmark = pytest.mark.runtime

# Short runs: two epochs of three steps; give up on a missing peer after 120 s.
ARGS = "entrypoint.args={--epochs,2,--steps,3,--timeout,120}"
EXAMPLE = ("examples.enabled=true", ARGS)


def plan(*sets: str) -> podsim.World:
    return podsim.plan(list(render(None, *sets)))


def deadline_for(processes: int) -> float:
    """Generous on 2 shared cores: most of the time is `import torch` in every process."""
    return 60.0 + 15.0 * processes


def run_and_check(world: podsim.World, world_dir, record_property, procs_per_pod: int = 1,
                  ordered_nodes: bool = True) -> podsim.WorldRun:
    """Run the world; assert every rank joined with a unique rank, the all_reduce sum, and a
    clean exit of every pod; record the rendezvous figures."""
    total = len(world.pods) * procs_per_pod
    wr = podsim.run(world, deadline=deadline_for(total + (len(world.pods) if procs_per_pod > 1 else 0)),
                    root=world_dir)
    logs = wr.logs()
    assert wr.interfaces == ["lo"], wr.interfaces
    assert [r.rc for r in wr.runs] == [0] * len(wr.runs), f"a pod failed or was killed:\n{logs}"
    results = wr.results()
    assert len(results) == total, f"{len(results)} of {total} ranks reported:\n{logs}"
    assert sorted(r["rank"] for r in results) == list(range(total)), logs
    expected_sum = total * (total + 1) / 2
    for r in results:
        assert r["ok"] is True, r
        assert r["world_size"] == total, r
        assert r["allreduce_sum"] == expected_sum, r
        assert r["backend"] == "gloo" and r["device"] == "cpu", r
    for run in wr.runs:
        mine = run.results()
        assert len(mine) == procs_per_pod, f"{run.pod.name}: {len(mine)} ranks:\n{logs}"
        assert {r["pod"] for r in mine} == {run.pod.name}, mine  # POD_NAME from the fieldRef
        assert sorted(r["local_rank"] for r in mine) == list(range(procs_per_pod)), mine
        # The rendered MASTER_ADDR reached the process unchanged.
        assert {r["master_addr"] for r in mine} == {run.pod.env["MASTER_ADDR"]}, mine
        if ordered_nodes:
            # The pod's index (ordinal / completion index) decides its ranks.
            first = run.pod.index * procs_per_pod
            assert sorted(r["rank"] for r in mine) == list(range(first, first + procs_per_pod)), mine
    figures = podsim.rendezvous_figures(results, wr.launched)
    figures.update(pods=len(world.pods), processes=total, wall_s=round(wr.wall, 1))
    record_property("podsim", figures)
    print(f"podsim figures: {figures}")
    return wr


def check_checkpoint(wr: podsim.WorldRun, total: int) -> None:
    """Rank 0 saved the checkpoint in its own data volume (CHECKPOINT_DIR=/data, mapped)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
        import torch

    rank0 = next(r for r in wr.results() if r["rank"] == 0)
    assert rank0["checkpoint"], rank0
    run0 = next(run for run in wr.runs if rank0 in run.results())
    data = run0.mapping["/data"]
    assert rank0["checkpoint"] == str(data / "ddp_train.pt")
    state = torch.load(rank0["checkpoint"], weights_only=True)
    assert state["world_size"] == total and state["steps"] == 6
    for r in wr.results():
        if r["rank"] != 0:
            assert r["checkpoint"] is None, r


@pytest.mark.parametrize("n", [2, 4, 8])
def test_statefulset_ranks_rendezvous(n, runtime_ready, world_dir, record_property):
    world = plan("mode=distributed", f"worldSize={n}", *EXAMPLE)
    assert world.kind == "StatefulSet" and len(world.pods) == n
    # The command is the rendered one: python /app/ddp_train.py <args>, run from /app.
    assert world.pods[0].argv[:2] == ["python", "/app/ddp_train.py"]
    assert world.pods[0].working_dir == "/app"
    wr = run_and_check(world, world_dir, record_property)
    check_checkpoint(wr, n)
    # Each rank got its own claim (volumeClaimTemplates): rank 1 wrote nothing in rank 0's.
    assert wr.runs[0].mapping["/data"] != wr.runs[1].mapping["/data"]


def test_standalone_deployment_runs_alone(runtime_ready, world_dir, record_property):
    world = plan(*EXAMPLE)
    assert world.kind == "Deployment" and len(world.pods) == 1
    assert world.pods[0].env["MASTER_ADDR"] == "127.0.0.1"
    wr = run_and_check(world, world_dir, record_property)
    check_checkpoint(wr, 1)


def test_dns_view_is_the_clusters_not_a_blanket(runtime_ready):
    """The simulated DNS answers only what the cluster would: a MASTER_ADDR rendered for another
    cluster domain does not resolve."""
    ok = plan("mode=distributed", "worldSize=2", *EXAMPLE)
    records, _ = podsim.dns_records(ok)
    assert ok.pods[1].env["MASTER_ADDR"] in records
    other = plan("mode=distributed", "worldSize=2", "clusterDomain=example.org", *EXAMPLE)
    records, _ = podsim.dns_records(other)
    assert other.pods[1].env["MASTER_ADDR"] not in records
    assert all(not name.endswith(".example.org") for name in records)


def test_unreachable_master_fails_and_stragglers_are_killed(runtime_ready, world_dir):
    """With a MASTER_ADDR the cluster cannot resolve, no rank gets through, and the runner ends
    every process by the deadline instead of waiting for torch's own timeout."""
    world = plan("mode=distributed", "worldSize=2", "clusterDomain=example.org", "examples.enabled=true",
                 "entrypoint.args={--timeout,600}")
    wr = podsim.run(world, deadline=12.0, fail_fast=5.0, root=world_dir)
    assert wr.results() == [], wr.logs()
    assert all(r.rc != 0 for r in wr.runs), wr.logs()
    assert any(r.killed for r in wr.runs), wr.logs()
    assert wr.wall < 45, wr.wall
    # (Unless every process was still importing torch at the deadline:) c10d could not resolve it.
    if any("joined the process group" not in r.output and "backend=" in r.output for r in wr.runs):
        assert "name resolution" in wr.logs(limit=100000), wr.logs()


# ----------------------------------------------------------------------------- torchrun / Job
# These follow docs/CONTRACT.md (launcher=torchrun, job.enabled=true); the
# simulator reads everything from the render (workload kind, fieldRefs, torchrun flags).

def torchrun_nodes(world: podsim.World) -> bool:
    """True when the rendered torchrun pins each pod's node rank (--node-rank / --node_rank),
    so pod i must host ranks i*P..i*P+P-1; with elastic rdzv the order is free."""
    return any("node-rank" in a or "node_rank" in a for a in world.pods[0].argv)


@pytest.mark.parametrize("nodes,procs", [(2, 2), (4, 2)])
def test_torchrun_nodes_rendezvous(nodes, procs, runtime_ready, world_dir, record_property):
    world = plan("mode=distributed", f"worldSize={nodes}", "launcher=torchrun", f"torchrun.nprocPerNode={procs}",
                 *EXAMPLE)
    assert world.pods[0].argv[0] == "torchrun", world.pods[0].argv
    run_and_check(world, world_dir, record_property, procs_per_pod=procs, ordered_nodes=torchrun_nodes(world))


# An Indexed Job has no per-rank claims: the chart asks for a shared (ReadWriteMany) claim.
SHARED_DATA = "persistence.accessMode=ReadWriteMany"


def test_indexed_job_ranks_rendezvous(runtime_ready, world_dir, record_property):
    world = plan("mode=distributed", "worldSize=4", "job.enabled=true", SHARED_DATA, *EXAMPLE)
    assert world.kind == "Job", world.kind
    spec = world.workload["spec"]
    assert spec.get("completionMode") == "Indexed"
    assert spec.get("parallelism") == spec.get("completions") == 4, "every rank must run at once"
    rank_ref = next(e for e in world.pods[0].container["env"] if e["name"] == "RANK")
    assert rank_ref["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    # Pod hostnames <job>-<index> under the headless Service: rank 0's is the MASTER_ADDR.
    assert world.pods[0].env["MASTER_ADDR"].startswith(f"{world.pods[0].hostname}.{world.pods[0].subdomain}.")
    wr = run_and_check(world, world_dir, record_property)
    check_checkpoint(wr, 4)
    # One claim shared by every rank.
    assert len({run.mapping["/data"] for run in wr.runs}) == 1


def test_indexed_job_torchrun_rendezvous(runtime_ready, world_dir, record_property):
    world = plan("mode=distributed", "worldSize=2", "job.enabled=true", "launcher=torchrun",
                 "torchrun.nprocPerNode=2", SHARED_DATA, *EXAMPLE)
    assert world.kind == "Job" and world.pods[0].argv[0] == "torchrun"
    run_and_check(world, world_dir, record_property, procs_per_pod=2, ordered_nodes=torchrun_nodes(world))


def test_standalone_job_runs_alone(runtime_ready, world_dir, record_property):
    world = plan("job.enabled=true", *EXAMPLE)
    assert world.kind == "Job" and len(world.pods) == 1
    run_and_check(world, world_dir, record_property)
