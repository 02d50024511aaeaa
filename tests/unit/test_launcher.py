"""launcher=torchrun, GPUs and NCCL/torch environment (launcher, torchrun.*, gpu.*, torchEnv)."""
import pytest

from harness.pods import expand, pod_envs

CODE = {"configMap": "code", "entrypoint": {"file": "train.py", "args": ["--epochs", "2"]}}
TORCHRUN = {**CODE, "launcher": "torchrun", "mode": "distributed", "worldSize": 2}


def test_should_run_python_launcher_by_default(default):
    assert default.env()["LOCAL_RANK"] == "0" and "NODE_RANK" not in default.env()


def test_should_launch_torchrun_with_one_node_per_pod(render):
    m = render(TORCHRUN)
    c = m.container()
    assert c["command"] == ["torchrun"]
    for ordinal, env in enumerate(pod_envs(m["StatefulSet"])):
        args = [expand(a, env) for a in c["args"]]
        assert args == ["--nnodes=2", "--nproc-per-node=1", f"--node-rank={ordinal}",
                        "--master-addr=rel-pytorch-0.rel-pytorch-headless.ml.svc.cluster.local",
                        "--master-port=49875", "/app/train.py", "--epochs", "2"]
        # torchrun sets RANK/WORLD_SIZE/LOCAL_RANK for each process it starts
        assert not {"RANK", "WORLD_SIZE", "LOCAL_RANK"} & env.keys()


@pytest.mark.parametrize("torchrun,gpu,expected", [
    ({}, {}, "1"), ({}, {"count": 8}, "8"), ({"nprocPerNode": 2}, {}, "2"), ({"nprocPerNode": 4}, {"count": 8}, "4")])
def test_should_pick_processes_per_pod(render, torchrun, gpu, expected):
    env = render({**TORCHRUN, "torchrun": torchrun, "gpu": gpu}).env()
    assert env["NPROC_PER_NODE"] == expected and env["NNODES"] == "2"


def test_should_pass_extra_torchrun_args_before_the_script(render):
    args = render({**TORCHRUN, "torchrun": {"extraArgs": ["--max-restarts=3", "--log-dir", "/tmp/logs"]}}).container()["args"]
    assert args[5:9] == ["--max-restarts=3", "--log-dir", "/tmp/logs", "/app/train.py"]


def test_should_run_torchrun_standalone_as_one_node(render):
    m = render({**CODE, "launcher": "torchrun", "gpu": {"count": 4}})
    env = m.env()
    assert (env["NNODES"], env["NPROC_PER_NODE"], env["NODE_RANK"], env["MASTER_ADDR"]) == ("1", "4", "0", "127.0.0.1")


def test_should_request_gpus_as_limits(render):
    res = render({"gpu": {"count": 2}, "resources": {"limits": {"memory": "32Gi"}, "requests": {"cpu": "8"}}}).container()["resources"]
    assert res == {"limits": {"memory": "32Gi", "nvidia.com/gpu": 2}, "requests": {"cpu": "8"}}


def test_should_use_gpu_resource_name(render):
    assert render({"gpu": {"count": 1, "resourceName": "amd.com/gpu"}}).container()["resources"] == {"limits": {"amd.com/gpu": 1}}


def test_should_not_request_gpus_by_default(default):
    assert "resources" not in default.container()


def test_should_pass_torch_env_map(render):
    env = render({"torchEnv": {"NCCL_SOCKET_IFNAME": "eth0", "NCCL_IB_DISABLE": 1, "TORCH_NCCL_ASYNC_ERROR_HANDLING": True}}).env()
    assert (env["NCCL_SOCKET_IFNAME"], env["NCCL_IB_DISABLE"], env["TORCH_NCCL_ASYNC_ERROR_HANDLING"]) == ("eth0", "1", "true")


@pytest.mark.parametrize("values,expected", [
    ({"launcher": "torchrun"}, "launcher: torchrun needs entrypoint.file"),
    ({**CODE, "torchrun": {"nprocPerNode": 2}}, "torchrun.nprocPerNode: only applies with launcher=torchrun"),
    ({"launcher": "mpirun"}, "/launcher"),
    ({"gpu": {"count": -1}}, "/gpu/count"),
    ({"gpu": {"resourceName": "gpu"}}, "/gpu/resourceName"),
    ({"torchEnv": {"BAD-NAME": "x"}}, "/torchEnv"),
    ({"job": {"backoffLimit": -1}}, "/job/backoffLimit"),
    ({"job": {"activeDeadlineSeconds": 0}}, "/job/activeDeadlineSeconds"),
])
def test_should_reject_bad_launcher_values(render_error, values, expected):
    assert expected in render_error(values)
