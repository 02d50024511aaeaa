"""templates/_pytorchjob.tpl: the PET_* variables of Kubeflow's PyTorchJob."""
import pytest

from harness.pods import pod_envs
from harness.presets import CODE, JOB, SHARED_CLAIM, TORCHRUN, distributed, merge

PET = ("PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT")
MASTER = "rel-pytorch-0.rel-pytorch-headless.ml.svc.cluster.local"


def pet(env: dict) -> dict:
    return {k: env[k] for k in PET}


def test_should_give_the_standalone_pod_a_world_of_one(default):
    assert pet(default.env()) == {"PET_NNODES": "1", "PET_NPROC_PER_NODE": "1", "PET_NODE_RANK": "0",
                                  "PET_MASTER_ADDR": "127.0.0.1", "PET_MASTER_PORT": "49875"}


@pytest.mark.parametrize("values", [distributed(3), merge(distributed(3), CODE, JOB, SHARED_CLAIM)],
                         ids=["StatefulSet", "Indexed Job"])
def test_should_give_each_rank_its_node_rank_from_its_index(render, values):
    m = render(merge(values, {"port": 29500, "gpu": {"count": 2}}))
    env = m.env()
    assert env["PET_NODE_RANK"] == env["RANK"]       # the same fieldRef
    envs = pod_envs(m.workload())
    assert [pet(e) for e in envs] == [{"PET_NNODES": "3", "PET_NPROC_PER_NODE": "1", "PET_NODE_RANK": str(i),
                                       "PET_MASTER_ADDR": MASTER, "PET_MASTER_PORT": "29500"} for i in range(3)]


def test_should_match_torchruns_own_flags_with_the_torchrun_launcher(render):
    m = render(merge(distributed(2), CODE, TORCHRUN, {"torchrun": {"nprocPerNode": 4}}))
    env = m.env()
    assert (env["PET_NNODES"], env["PET_NPROC_PER_NODE"]) == (env["NNODES"], env["NPROC_PER_NODE"]) == ("2", "4")
    assert env["PET_NODE_RANK"] == env["NODE_RANK"]
    assert [e["PET_NODE_RANK"] for e in pod_envs(m.workload())] == ["0", "1"]


def test_should_come_right_after_the_master_port(default):
    names = [e["name"] for e in default.container()["env"]]
    i = names.index("MASTER_PORT")
    assert tuple(names[i + 1:i + 6]) == PET
