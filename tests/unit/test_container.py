"""templates/_container.tpl: the PyTorch container: what it runs (entrypoint.*, examples.enabled,
launcher, torchrun.*), its environment, probes, ports and resources (gpu.*)."""
import importlib.util
import subprocess
import sys

import pytest

from harness.pods import expand, pod_envs
from harness.presets import CODE, MODES, TORCHRUN, distributed, merge

DEBUG = {"TORCH_DISTRIBUTED_DEBUG": "DETAIL", "TORCH_CPP_LOG_LEVEL": "INFO", "NCCL_DEBUG": "INFO",
         "LOGLEVEL": "DEBUG", "PYTHONFAULTHANDLER": "1"}
PROBES = ["livenessProbe", "readinessProbe"]
CUSTOM = {"livenessProbe": "customLivenessProbe", "readinessProbe": "customReadinessProbe"}
WITH_ARGS = merge(CODE, {"entrypoint": {"args": ["--epochs", "2"]}})


# --- command and args -----------------------------------------------------------------------

def test_should_wait_for_kubectl_exec_without_entrypoint(default):
    c = default.container()
    assert c["command"] == ["sleep", "infinity"] and "args" not in c


def test_should_run_entrypoint_file_from_app(render):
    c = render(CODE).container()
    assert c["command"] == ["python", "/app/train.py"] and "args" not in c
    assert c["workingDir"] == "/app"


def test_should_run_absolute_entrypoint_without_files(render):
    c = render({"entrypoint": {"file": "/opt/code/train.py"}}).container()
    assert c["command"] == ["python", "/opt/code/train.py"]
    assert "workingDir" not in c


def test_should_pass_each_list_item_as_one_argument_unchanged(render):
    args = ["--name", "two words", "--expr", "$$(HOME); rm -rf /", "--quote", "it's \"quoted\"", 3, True]
    c = render(merge(CODE, {"entrypoint": {"args": args}})).container()
    assert c["args"] == ["--name", "two words", "--expr", "$$(HOME); rm -rf /", "--quote", "it's \"quoted\"", "3", "true"]


def test_should_split_string_args_on_whitespace(render):
    c = render(merge(CODE, {"entrypoint": {"args": "  --epochs 10\t--lr   0.1 "}})).container()
    assert c["args"] == ["--epochs", "10", "--lr", "0.1"]


def test_should_take_args_from_set(render):
    c = render({"configMap": "code"}, "entrypoint.file=train.py", "entrypoint.args={--epochs,5}").container()
    assert c["args"] == ["--epochs", "5"]


def test_should_run_example_when_examples_enabled(render):
    c = render(merge({"examples": {"enabled": True}}, distributed(2))).container()
    assert c["command"] == ["python", "/app/ddp_train.py"]


def test_should_prefer_entrypoint_file_over_example(render):
    c = render({"examples": {"enabled": True}, "entrypoint": {"file": "ddp_train.py", "args": ["--steps", "2"]}}).container()
    assert c["command"] == ["python", "/app/ddp_train.py"] and c["args"] == ["--steps", "2"]


def test_should_run_python_launcher_by_default(default):
    assert default.env()["LOCAL_RANK"] == "0" and "NODE_RANK" not in default.env()


def test_should_launch_torchrun_with_one_node_per_pod(render):
    m = render(merge(WITH_ARGS, TORCHRUN, distributed(2)))
    c = m.container()
    assert c["command"] == ["torchrun"]
    for ordinal, env in enumerate(pod_envs(m["StatefulSet"])):
        args = [expand(a, env) for a in c["args"]]
        assert args == ["--nnodes=2", "--nproc-per-node=1", f"--node-rank={ordinal}",
                        "--master-addr=rel-pytorch-0.rel-pytorch-headless.ml.svc.cluster.local",
                        "--master-port=49875", "/app/train.py", "--epochs", "2"]
        # torchrun sets RANK/WORLD_SIZE/LOCAL_RANK for each process it starts
        assert not {"RANK", "WORLD_SIZE", "LOCAL_RANK"} & env.keys()


def test_should_pass_extra_torchrun_args_before_the_script(render):
    values = merge(WITH_ARGS, TORCHRUN, distributed(2),
                   {"torchrun": {"extraArgs": ["--max-restarts=3", "--log-dir", "/tmp/logs"]}})
    args = render(values).container()["args"]
    assert args[5:9] == ["--max-restarts=3", "--log-dir", "/tmp/logs", "/app/train.py"]


# --- environment ----------------------------------------------------------------------------

def test_should_set_torch_distributed_variables(default, distributed):
    for m in (default, distributed):
        assert {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT", "POD_NAME", "POD_NAMESPACE"} <= m.env().keys()


def test_should_not_turn_on_debug_output_by_default(default):
    assert not DEBUG.keys() & default.env().keys()


@pytest.mark.parametrize("mode", MODES)
def test_should_turn_on_pytorch_and_nccl_debug_output(render, mode):
    env = render(merge({"image": {"debug": True}}, MODES[mode])).env()
    assert DEBUG.items() <= env.items()


def test_should_append_extra_env_vars_rendered_as_templates(render):
    extra = [{"name": "NCCL_SOCKET_IFNAME", "value": "eth0"}, {"name": "RUN", "value": "{{ .Release.Name }}"},
             {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}]
    env = render({"extraEnvVars": extra}).env()
    assert env["NCCL_SOCKET_IFNAME"] == "eth0" and env["RUN"] == "rel"
    assert env["TOKEN"] == {"secretKeyRef": {"name": "hf", "key": "token"}}


def test_should_accept_extra_env_vars_as_a_template_string(render):
    env = render({"extraEnvVars": "- name: RELEASE\n  value: {{ .Release.Name }}\n"}).env()
    assert env["RELEASE"] == "rel"


def test_should_pass_torch_env_map(render):
    env = render({"torchEnv": {"NCCL_SOCKET_IFNAME": "eth0", "NCCL_IB_DISABLE": 1, "TORCH_NCCL_ASYNC_ERROR_HANDLING": True}}).env()
    assert (env["NCCL_SOCKET_IFNAME"], env["NCCL_IB_DISABLE"], env["TORCH_NCCL_ASYNC_ERROR_HANDLING"]) == ("eth0", "1", "true")


# --- probes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("probe", PROBES)
def test_should_check_torch_is_installed_by_default(default, probe):
    p = default.container()[probe]
    assert p["exec"]["command"][:2] == ["python", "-c"] and "find_spec('torch')" in p["exec"]["command"][2]
    assert "import torch" not in p["exec"]["command"][2]


@pytest.fixture(scope="module")
def pythons(tmp_path_factory) -> dict[str, str]:
    """PATHs on which `python` is this suite's interpreter, with torch (the project's .venv has
    it) or without any site-packages (-S: no torch)."""
    assert importlib.util.find_spec("torch") is not None, \
        f"{sys.executable} has no torch: run `make setup` (hack/venv.sh installs it into .venv)"
    out = {}
    for name, flags in (("with-torch", ""), ("without-torch", " -S")):
        folder = tmp_path_factory.mktemp(name)
        (folder / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}"{flags} "$@"\n')
        (folder / "python").chmod(0o755)
        out[name] = f"{folder}:/usr/bin:/bin"
    return out


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("python,passes", [("with-torch", True), ("without-torch", False)])
def test_should_pass_the_default_probe_only_where_torch_is_installed(default, pythons, probe, python, passes):
    """The probe's command, run as the kubelet runs it (exec, `python` looked up on PATH)."""
    command = default.container()[probe]["exec"]["command"]
    proc = subprocess.run(command, env={"PATH": pythons[python]}, capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == ((0, "") if passes else (1, ""))


def test_should_use_documented_default_timings(default):
    c = default.container()
    assert {k: v for k, v in c["livenessProbe"].items() if k != "exec"} == {
        "initialDelaySeconds": 5, "periodSeconds": 5, "timeoutSeconds": 5, "successThreshold": 1, "failureThreshold": 5}
    assert {k: v for k, v in c["readinessProbe"].items() if k != "exec"} == {
        "initialDelaySeconds": 5, "periodSeconds": 5, "timeoutSeconds": 5, "successThreshold": 1, "failureThreshold": 5}


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("field,value", [("initialDelaySeconds", 30), ("periodSeconds", 17), ("timeoutSeconds", 9),
                                         ("failureThreshold", 11)])
def test_should_pass_each_probe_field(render, probe, field, value):
    assert render({probe: {field: value}}).container()[probe][field] == value


def test_should_pass_readiness_success_threshold(render):
    assert render({"readinessProbe": {"successThreshold": 3}}).container()["readinessProbe"]["successThreshold"] == 3


@pytest.mark.parametrize("probe", PROBES)
def test_should_drop_disabled_probe(render, probe):
    c = render({probe: {"enabled": False}}).container()
    assert probe not in c and (set(PROBES) - {probe}) <= c.keys()


@pytest.mark.parametrize("probe", PROBES)
def test_should_replace_probe_with_custom_probe(render, probe):
    custom = {"tcpSocket": {"port": "dist"}, "periodSeconds": 20}
    assert render({CUSTOM[probe]: custom}).container()[probe] == custom


STARTUP = {"startupProbe": {"enabled": True}}


def test_should_have_no_startup_probe_by_default(default):
    assert "startupProbe" not in default.container()


def test_should_check_torch_is_installed_in_the_startup_probe_with_its_own_timings(render, default):
    c = render(merge(STARTUP, {"startupProbe": {"failureThreshold": 60, "periodSeconds": 10}})).container()
    assert c["startupProbe"] == {**default.container()["livenessProbe"], "failureThreshold": 60, "periodSeconds": 10}


def test_should_keep_the_default_startup_probe_with_heartbeat(render):
    """The heartbeat probes watch a running script; the startup probe waits only for the container."""
    c = render(merge(STARTUP, {"heartbeat": {"enabled": True}})).container()
    assert "find_spec('torch')" in c["startupProbe"]["exec"]["command"][2]
    assert c["livenessProbe"]["exec"]["command"] == [
        "sh", "/opt/pytorch-chart/liveness.sh", "--timeout-seconds=300", "--autopsy-dir=/tmp/pytorch-autopsy",
        "--period-seconds=5", "--failure-threshold=5", "--probe-timeout-seconds=5"]


def test_should_replace_the_startup_probe_with_the_custom_one(render):
    custom = {"tcpSocket": {"port": "dist"}, "failureThreshold": 30}
    assert render({"customStartupProbe": custom}).container()["startupProbe"] == custom


# --- ports and resources --------------------------------------------------------------------

def test_should_expose_the_dist_port_on_the_container(default):
    assert default.container()["ports"] == [{"name": "dist", "containerPort": 49875, "protocol": "TCP"}]


def test_should_set_resources(render):
    res = {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "8Gi", "nvidia.com/gpu": 1}}
    assert render({"resources": res}).container()["resources"] == res


def test_should_render_no_resources_by_default(default):
    assert "resources" not in default.container()


def test_should_request_gpus_as_limits(render):
    res = render({"gpu": {"count": 2}, "resources": {"limits": {"memory": "32Gi"}, "requests": {"cpu": "8"}}}).container()["resources"]
    assert res == {"limits": {"memory": "32Gi", "nvidia.com/gpu": 2}, "requests": {"cpu": "8"}}


def test_should_use_gpu_resource_name(render):
    assert render({"gpu": {"count": 1, "resourceName": "amd.com/gpu"}}).container()["resources"] == {"limits": {"amd.com/gpu": 1}}


# --- threads per process (threadsPerProcess, OMP_NUM_THREADS) --------------------------------

def omp_entries(m) -> list:
    return [e for e in m.container()["env"] if e["name"] == "OMP_NUM_THREADS"]


def test_should_leave_threads_to_torch_without_a_cpu_limit(default, render):
    assert omp_entries(default) == []
    assert omp_entries(render({"resources": {"requests": {"cpu": "6"}}})) == []


@pytest.mark.parametrize("cpu,launcher,threads", [
    (6, {}, "6"), ("6", {}, "6"), ("2.5", {}, "2"), ("7500m", {}, "7"), ("300m", {}, "1"),
    ("7500m", merge(TORCHRUN, {"torchrun": {"nprocPerNode": 3}}), "2"),
    ("12", merge(TORCHRUN, {"torchrun": {"nprocPerNode": 5}}), "2"),
    ("3", merge(TORCHRUN, {"torchrun": {"nprocPerNode": 4}}), "1"),
    ("16", merge(TORCHRUN, {"gpu": {"count": 4}}), "4"),
    ("16", {"gpu": {"count": 4}}, "16"),
], ids=["int", "string", "fraction", "millicores", "below-one-core", "torchrun-3", "torchrun-5",
        "torchrun-more-processes-than-cores", "torchrun-one-per-gpu", "python-one-process-with-gpus"])
def test_should_divide_the_cpu_limit_among_the_processes_of_a_pod(render, cpu, launcher, threads):
    m = render(merge(distributed(5), CODE, launcher, {"resources": {"limits": {"cpu": cpu, "memory": "4Gi"}}}))
    assert omp_entries(m) == [{"name": "OMP_NUM_THREADS", "value": threads}]


def test_should_set_threads_per_process_as_given(render):
    m = render({"threadsPerProcess": 5, "resources": {"limits": {"cpu": "16"}}})
    assert omp_entries(m) == [{"name": "OMP_NUM_THREADS", "value": "5"}]
    assert omp_entries(render({"threadsPerProcess": 3})) == [{"name": "OMP_NUM_THREADS", "value": "3"}]


@pytest.mark.parametrize("own", [
    {"torchEnv": {"OMP_NUM_THREADS": "3"}},
    {"extraEnvVars": [{"name": "OMP_NUM_THREADS", "value": "3"}]},
], ids=["torchEnv", "extraEnvVars"])
def test_should_let_the_users_own_omp_num_threads_win(render, own):
    m = render(merge(own, {"threadsPerProcess": 7, "resources": {"limits": {"cpu": "8"}}}))
    assert omp_entries(m) == [{"name": "OMP_NUM_THREADS", "value": "3"}]

