"""Scripts and launch lines written for a Kubeflow PyTorchJob run unchanged on the chart's pods.

Level: simulator (podsim.py): each rendered pod's command runs as a local process with real
torch (gloo), given the env Kubernetes would give that pod, including the PET_* variables a
PyTorchJob sets. The scripts (tests/runtime/scripts/) know nothing about the chart; they are
dropped into files/ of a copy of the chart, as a user would.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.render import chart_copy, render
from runtime import podsim

pytestmark = pytest.mark.runtime

SCRIPTS = Path(__file__).resolve().parent / "scripts"


@pytest.fixture(scope="module")
def chart(tmp_path_factory):
    files = {f"files/{p.name}": p.read_text() for p in SCRIPTS.glob("*.py")}
    return chart_copy(tmp_path_factory.mktemp("pytorchjob"), files)


def deadline_for(processes: int) -> float:
    return 60.0 + 15.0 * processes


def run(world: podsim.World, world_dir, processes: int) -> podsim.WorldRun:
    wr = podsim.run(world, deadline=deadline_for(processes), root=world_dir)
    assert wr.interfaces == ["lo"], wr.interfaces
    assert [r.rc for r in wr.runs] == [0] * len(wr.runs), f"a pod failed or was killed:\n{wr.logs()}"
    assert len(wr.results()) == processes, wr.logs()
    return wr


def test_should_run_an_env_init_script_with_send_and_recv_unchanged(chart, runtime_ready, world_dir, record_property):
    values = {"mode": "distributed", "worldSize": 3, "entrypoint": {"file": "pytorchjob_p2p.py"}}
    world = podsim.plan(list(render(values, chart=chart)))
    assert world.pods[0].argv == ["python", "/app/pytorchjob_p2p.py"]
    wr = run(world, world_dir, 3)
    results = sorted(wr.results(), key=lambda r: r["rank"])
    master = "rel-pytorch-0.rel-pytorch-headless.ml.svc.cluster.local"
    assert [(r["rank"], r["world_size"], r["from"], r["received"]) for r in results] == [
        (0, 3, 2, 102.0), (1, 3, 0, 100.0), (2, 3, 1, 101.0)]
    for r, run_ in zip(results, wr.runs):
        assert r["pod"] == run_.pod.name == f"rel-pytorch-{r['rank']}"
        assert (r["master_addr"], r["master_port"]) == (master, "49875")
        assert r["pet"] == {"PET_MASTER_ADDR": master, "PET_MASTER_PORT": "49875", "PET_NNODES": "3",
                            "PET_NODE_RANK": str(r["rank"]), "PET_NPROC_PER_NODE": "1"}
    figures = podsim.rendezvous_figures(results, wr.launched)
    record_property("podsim", {**figures, "pods": 3, "processes": 3, "wall_s": round(wr.wall, 1)})


def check_torchrun_world(wr: podsim.WorldRun, nodes: int, procs: int) -> None:
    results = wr.results()
    total = nodes * procs
    assert sorted(r["rank"] for r in results) == list(range(total)), wr.logs()
    run_ids = {r["torchelastic"].get("TORCHELASTIC_RUN_ID") for r in results}
    assert len(run_ids) == 1 and None not in run_ids, results
    for run_ in wr.runs:
        mine = run_.results()
        assert len(mine) == procs, wr.logs()
        for r in mine:
            assert r["world_size"] == total and r["allreduce_sum"] == total * (total + 1) / 2, r
            assert r["env"]["GROUP_RANK"] == str(run_.pod.index), r       # node rank = the pod's index
            assert r["env"]["LOCAL_WORLD_SIZE"] == str(procs), r
            assert r["env"]["MASTER_ADDR"] == run_.pod.env["PET_MASTER_ADDR"], r
            assert r["torchelastic"]["TORCHELASTIC_RESTART_COUNT"] == "0", r
            assert r["torchelastic"]["TORCHELASTIC_MAX_RESTARTS"] == "0", r
            assert "TORCHELASTIC_USE_AGENT_STORE" in r["torchelastic"], r
        assert sorted(int(r["env"]["LOCAL_RANK"]) for r in mine) == list(range(procs))


TORCHRUN = {"mode": "distributed", "worldSize": 2, "launcher": "torchrun", "torchrun": {"nprocPerNode": 2},
            "entrypoint": {"file": "torchrun_env.py"}}


def test_should_run_a_torchrun_script_with_the_charts_launch_line(chart, runtime_ready, world_dir):
    world = podsim.plan(list(render(TORCHRUN, chart=chart)))
    assert world.pods[1].argv[:4] == ["torchrun", "--nnodes=2", "--nproc-per-node=2", "--node-rank=1"]
    check_torchrun_world(run(world, world_dir, 4), nodes=2, procs=2)


def test_should_run_a_pytorchjob_launch_line_from_the_pet_variables_alone(chart, runtime_ready, world_dir):
    """`torchrun train.py`, as a PyTorchJob's container runs it: no flags, so torchrun takes
    --nnodes, --nproc-per-node, --node-rank, --master-addr and --master-port from PET_*."""
    world = podsim.plan(list(render(TORCHRUN, chart=chart)))
    for pod in world.pods:
        pod.argv = ["torchrun", "/app/torchrun_env.py"]
    check_torchrun_world(run(world, world_dir, 4), nodes=2, procs=2)
