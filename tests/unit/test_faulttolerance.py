"""templates/_faulttolerance.tpl: group restart (faultTolerance.*: the python supervisor, elastic
torchrun), collective timeouts, heartbeat probes (heartbeat.*), CHECKPOINT_EVERY and the checkpoint
claim's name. Level: render; the rendered supervisor and liveness commands also run here under sh,
with the programs they call (files/programs/, mounted at /opt/pytorch-chart in the pod) taken from
the chart."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.pods import expand, pod_envs
from harness.presets import CODE, JOB, SHARED_CLAIM, TORCHRUN, distributed, merge
from harness.tools import CHART

FT = {"faultTolerance": {"enabled": True}}
HEARTBEAT = {"heartbeat": {"enabled": True}}
WITH_ARGS = merge(CODE, {"entrypoint": {"args": ["--epochs", "2"]}})
PROGRAMS = "/opt/pytorch-chart"        # where the chart mounts files/programs/ (_programs.tpl)
AUTOPSY = "/tmp/pytorch-autopsy"           # the stack autopsy's folder, in the /tmp emptyDir
LAUNCH = ["sh", f"{PROGRAMS}/launch.sh", "--heartbeat", f"--stack-dumps={AUTOPSY}", "--"]
NO_DUMPS = {"heartbeat": {"enabled": True, "stackDumps": False}}


def supervisor(max_restarts: int, codes: str = "", heartbeat: bool = False) -> list[str]:
    """The words the chart puts in front of the launch with the python supervisor."""
    words = ["sh", f"{PROGRAMS}/supervisor.sh", f"--max-restarts={max_restarts}"]
    words += [f"--non-retriable-exit-codes={codes}"] if codes else []
    return words + ["--"] + (LAUNCH if heartbeat else [])


def liveness(timeout: int, period: int = 5, failures: int = 5, probe_timeout: int = 5, shared: str = "",
             autopsy: bool = True) -> list[str]:
    """The heartbeat liveness probe's command (the livenessProbe defaults: 5, 5, 5)."""
    words = ["sh", f"{PROGRAMS}/liveness.sh", f"--timeout-seconds={timeout}"]
    if autopsy:
        words += [f"--autopsy-dir={AUTOPSY}"] + ([f"--shared-dir={shared}"] if shared else []) + [
            f"--period-seconds={period}", f"--failure-threshold={failures}", f"--probe-timeout-seconds={probe_timeout}"]
    return words


def local(words: list[str], tmp: Path | None = None) -> list[str]:
    """A rendered command's words with the programs' mount path pointed at files/programs/ (and
    the autopsy's folder in the pod's /tmp at tmp)."""
    out = [w.replace(PROGRAMS, str(CHART / "files" / "programs"), 1) if w.startswith(PROGRAMS + "/") else w
           for w in words]
    return [w.replace(f"={AUTOPSY}", f"={tmp}", 1) for w in out] if tmp else out


def wrapper(m) -> list[str]:
    """The rendered wrapper words (everything before `python`), runnable here."""
    command = m.container()["command"]
    return local(command[:command.index("python")])


def env_entries(container: dict, *names: str) -> list[dict]:
    """The container's env entries with these names, in render order."""
    return [e for e in container["env"] if e["name"] in names]


# --- command: the python supervisor -----------------------------------------------------------

def test_should_run_python_under_the_supervisor_with_fault_tolerance(render):
    c = render(merge(WITH_ARGS, {"faultTolerance": {"enabled": True, "maxRestarts": 2,
                                                    "nonRetriableExitCodes": [3, 2]}})).container()
    assert c["command"] == [*supervisor(2, "2,3"), "python", "/app/train.py", "--epochs", "2"]
    assert "args" not in c


def test_should_take_the_first_and_the_last_exit_code_of_the_range(render):
    """1 and 255 are the edges of the codes a process can exit with and the schema accepts."""
    c = render(merge(CODE, FT, {"faultTolerance": {"nonRetriableExitCodes": [255, 128, 1]}})).container()
    assert c["command"] == [*supervisor(3, "1,128,255"), "python", "/app/train.py"]


def test_should_leave_out_the_exit_code_option_without_non_retriable_codes(render):
    assert render(merge(CODE, FT)).container()["command"] == [*supervisor(3), "python", "/app/train.py"]


def test_should_remove_stale_heartbeat_files_before_every_attempt(render):
    c = render(merge(CODE, FT, HEARTBEAT, {"faultTolerance": {"nonRetriableExitCodes": [2]}})).container()
    assert c["command"] == [*supervisor(3, "2", heartbeat=True), "python", "/app/train.py"]


def test_should_keep_the_supervisor_words_as_written_through_kubernetes_expansion(render):
    m = render(merge(CODE, FT, HEARTBEAT, distributed(2), {"faultTolerance": {"nonRetriableExitCodes": [2]}}))
    words = m.container()["command"][:len(supervisor(3, "2", heartbeat=True))]
    for env in pod_envs(m["StatefulSet"]):
        assert [expand(w, env) for w in words] == words == supervisor(3, "2", heartbeat=True)


def test_should_not_wrap_sleep_infinity(render):
    c = render(merge(FT, HEARTBEAT)).container()
    assert c["command"] == ["sleep", "infinity"] and "args" not in c


def test_should_wrap_python_in_the_launch_program_with_heartbeat_alone(render):
    c = render(merge(WITH_ARGS, HEARTBEAT)).container()
    assert c["command"] == [*LAUNCH, "python", "/app/train.py", "--epochs", "2"]
    assert "args" not in c


# --- command: torchrun -----------------------------------------------------------------------

ELASTIC = merge(WITH_ARGS, TORCHRUN, distributed(6), {"port": 23456, "faultTolerance": {
    "enabled": True, "minNodes": 4, "maxRestarts": 5}})
ELASTIC_ARGS = ["--nnodes=4:$(NNODES)", "--nproc-per-node=$(NPROC_PER_NODE)", "--rdzv-backend=c10d",
                "--rdzv-endpoint=$(MASTER_ADDR):$(MASTER_PORT)", "--rdzv-id=$(RDZV_ID)", "--max-restarts=5",
                "/app/train.py", "--epochs", "2"]


def test_should_launch_elastic_torchrun_with_fault_tolerance(render):
    m = render(ELASTIC)
    c = m.container()
    assert c["command"] == ["torchrun"] and c["args"] == ELASTIC_ARGS
    for env in pod_envs(m["StatefulSet"]):
        assert [expand(a, env) for a in c["args"]][:6] == [
            "--nnodes=4:6", "--nproc-per-node=1", "--rdzv-backend=c10d",
            "--rdzv-endpoint=rel-pytorch-0.rel-pytorch-headless.ml.svc.cluster.local:23456",
            "--rdzv-id=rel-rel-pytorch-podsim", "--max-restarts=5"]


@pytest.mark.parametrize("min_nodes", [0, 6])
def test_should_give_a_fixed_node_count_unless_min_nodes_is_below_the_pods(render, min_nodes):
    args = render(merge(ELASTIC, {"faultTolerance": {"minNodes": min_nodes}})).container()["args"]
    assert args[0] == "--nnodes=$(NNODES)" and args[1:] == ELASTIC_ARGS[1:]


def test_should_pass_extra_torchrun_args_after_the_rendezvous_flags(render):
    args = render(merge(ELASTIC, {"torchrun": {"extraArgs": ["--log-dir", "/tmp/logs"]}})).container()["args"]
    assert args == ELASTIC_ARGS[:6] + ["--log-dir", "/tmp/logs"] + ELASTIC_ARGS[6:]


def test_should_wrap_elastic_torchrun_in_the_launch_program_with_heartbeat(render):
    c = render(merge(ELASTIC, HEARTBEAT)).container()
    assert c["command"] == [*LAUNCH, "torchrun", *ELASTIC_ARGS] and "args" not in c


def test_should_wrap_static_torchrun_in_the_launch_program_with_heartbeat(render):
    c = render(merge(WITH_ARGS, TORCHRUN, distributed(2), HEARTBEAT)).container()
    assert c["command"] == [*LAUNCH, "torchrun", "--nnodes=$(NNODES)",
                            "--nproc-per-node=$(NPROC_PER_NODE)", "--node-rank=$(NODE_RANK)",
                            "--master-addr=$(MASTER_ADDR)", "--master-port=$(MASTER_PORT)",
                            "/app/train.py", "--epochs", "2"]


# --- environment -----------------------------------------------------------------------------

TIMEOUTS = ("PG_TIMEOUT_SECONDS", "TORCH_NCCL_ASYNC_ERROR_HANDLING", "TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC",
            "TORCH_NCCL_ENABLE_MONITORING")


def test_should_always_set_collective_timeouts(default, distributed):
    for m in (default, distributed):
        assert env_entries(m.container(), *TIMEOUTS) == [
            {"name": "PG_TIMEOUT_SECONDS", "value": "300"}, {"name": "TORCH_NCCL_ASYNC_ERROR_HANDLING", "value": "3"},
            {"name": "TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC", "value": "300"},
            {"name": "TORCH_NCCL_ENABLE_MONITORING", "value": "1"}]


def test_should_take_the_collective_timeout_from_values(render):
    env = render({"faultTolerance": {"collectiveTimeoutSeconds": 1800}}).env()
    assert (env["PG_TIMEOUT_SECONDS"], env["TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC"]) == ("1800", "1800")


def test_should_leave_a_timeout_variable_to_torch_env_or_extra_env_vars(render):
    c = render({"torchEnv": {"TORCH_NCCL_ASYNC_ERROR_HANDLING": 1},
                "extraEnvVars": [{"name": "PG_TIMEOUT_SECONDS", "value": "60"}]}).container()
    assert env_entries(c, *TIMEOUTS) == [
        {"name": "TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC", "value": "300"},
        {"name": "TORCH_NCCL_ENABLE_MONITORING", "value": "1"},
        {"name": "TORCH_NCCL_ASYNC_ERROR_HANDLING", "value": "1"}, {"name": "PG_TIMEOUT_SECONDS", "value": "60"}]


def test_should_set_heartbeat_files_only_with_heartbeat(default, render):
    assert env_entries(render(HEARTBEAT).container(), "HEARTBEAT_FILE", "READY_FILE") == [
        {"name": "HEARTBEAT_FILE", "value": "/tmp/pytorch-heartbeat/alive"},
        {"name": "READY_FILE", "value": "/tmp/pytorch-heartbeat/ready"}]
    assert not {"HEARTBEAT_FILE", "READY_FILE"} & default.env().keys()


def test_should_set_checkpoint_every_only_when_above_zero(default, render):
    assert render({"checkpoint": {"everySteps": 500}}).env()["CHECKPOINT_EVERY"] == "500"
    assert "CHECKPOINT_EVERY" not in default.env()


@pytest.mark.parametrize("mode,label", [
    ({}, "pod-template-hash"),
    (distributed(3), "controller-revision-hash"),
    (merge(distributed(3), JOB, SHARED_CLAIM), "batch.kubernetes.io/controller-uid"),
])
def test_should_name_the_rendezvous_after_release_and_pod_revision(render, mode, label):
    c = render(merge(CODE, TORCHRUN, FT, mode)).container()
    assert env_entries(c, "RDZV_REVISION", "RDZV_ID", "TORCH_DISABLE_SHARE_RDZV_TCP_STORE") == [
        {"name": "RDZV_REVISION", "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{label}']"}}},
        {"name": "RDZV_ID", "value": "rel-$(RDZV_REVISION)"},
        {"name": "TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "value": "1"}]


@pytest.mark.parametrize("values", [merge(CODE, FT), merge(CODE, TORCHRUN)], ids=["python", "static-torchrun"])
def test_should_set_no_rendezvous_id_without_elastic_torchrun(render, values):
    assert not {"RDZV_REVISION", "RDZV_ID", "TORCH_DISABLE_SHARE_RDZV_TCP_STORE"} & render(values).env().keys()


def test_should_give_each_job_pod_the_same_rendezvous_id(render):
    m = render(merge(CODE, TORCHRUN, FT, distributed(3), JOB, SHARED_CLAIM))
    assert {env["RDZV_ID"] for env in pod_envs(m["Job"])} == {"rel-uid-rel-pytorch"}


# --- probes ----------------------------------------------------------------------------------

def test_should_probe_progress_with_heartbeat(render):
    c = render(merge(HEARTBEAT, {"livenessProbe": {"periodSeconds": 17}, "readinessProbe": {"failureThreshold": 9}})).container()
    assert c["livenessProbe"] == {"exec": {"command": liveness(300, period=17)}, "initialDelaySeconds": 5,
                                  "periodSeconds": 17, "timeoutSeconds": 5, "successThreshold": 1, "failureThreshold": 5}
    assert c["readinessProbe"] == {"exec": {"command": ["test", "-e", "/tmp/pytorch-heartbeat/ready"]},
                                   "initialDelaySeconds": 5, "periodSeconds": 5, "timeoutSeconds": 5,
                                   "successThreshold": 1, "failureThreshold": 9}


def test_should_take_the_heartbeat_timeout_from_values(render):
    c = render({"heartbeat": {"enabled": True, "timeoutSeconds": 90}}).container()
    assert c["livenessProbe"]["exec"]["command"] == liveness(90)


def test_should_give_the_stack_autopsy_the_probes_own_timings(render):
    c = render(merge(HEARTBEAT, {"livenessProbe": {"periodSeconds": 17, "failureThreshold": 9, "timeoutSeconds": 7}}))
    assert c.container()["livenessProbe"]["exec"]["command"] == liveness(300, period=17, failures=9, probe_timeout=7)


@pytest.mark.parametrize("mount,shared", [("/checkpoints", "/checkpoints/.pytorch-autopsy"),
                                          ("/mnt/ckpt", "/mnt/ckpt/.pytorch-autopsy")])
def test_should_share_the_autopsy_reports_on_the_checkpoint_claim(render, mount, shared):
    c = render(merge(HEARTBEAT, {"checkpoint": {"persistence": {"enabled": True, "mountPath": mount}}})).container()
    assert c["livenessProbe"]["exec"]["command"] == liveness(300, shared=shared)


def test_should_leave_the_stack_autopsy_out_when_stack_dumps_are_off(render):
    c = render(merge(WITH_ARGS, FT, NO_DUMPS, {"checkpoint": {"persistence": {"enabled": True}}})).container()
    assert c["command"] == [*supervisor(3), "sh", f"{PROGRAMS}/launch.sh", "--heartbeat", "--",
                            "python", "/app/train.py", "--epochs", "2"]
    assert c["livenessProbe"]["exec"]["command"] == liveness(300, autopsy=False)


def test_should_let_custom_and_disabled_probes_win_over_heartbeat(render):
    c = render(merge(HEARTBEAT, {"customLivenessProbe": {"tcpSocket": {"port": 49875}},
                                 "readinessProbe": {"enabled": False}})).container()
    assert c["livenessProbe"] == {"tcpSocket": {"port": 49875}} and "readinessProbe" not in c


@pytest.mark.parametrize("age,passes", [(None, True), (0, True), (100, True), (400, False)])
def test_should_fail_liveness_only_on_a_stale_heartbeat(render, tmp_path, age, passes):
    beat = tmp_path / "alive"
    if age is not None:
        beat.touch()
        os.utime(beat, (time.time() - age, time.time() - age))
    command = local(render(HEARTBEAT).container()["livenessProbe"]["exec"]["command"], tmp_path / "autopsy")
    proc = subprocess.run(command, env={**os.environ, "HEARTBEAT_FILE": str(beat)})
    assert (proc.returncode == 0) is passes


# --- the supervisor at work (sh here; the child is a small sh script) -------------------------

def run_supervisor(render, values: dict, child: str, tmp_path) -> subprocess.CompletedProcess:
    head = wrapper(render(merge(CODE, FT, values)))
    return subprocess.run([*head, "sh", "-c", child], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "STATE": str(tmp_path)})


def test_should_restart_the_group_until_it_succeeds(render, tmp_path):
    child = 'echo "$GROUP_RESTART_COUNT/$MAX_RESTARTS" >>"$STATE/attempts"; [ "$GROUP_RESTART_COUNT" -ge 2 ]'
    proc = run_supervisor(render, {"faultTolerance": {"maxRestarts": 4}}, child, tmp_path)
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == ["pytorch-supervisor: attempt 0 exited 1; restart 1/4",
                                        "pytorch-supervisor: attempt 1 exited 1; restart 2/4"]
    assert (tmp_path / "attempts").read_text().split() == ["0/4", "1/4", "2/4"]


def test_should_stop_with_the_code_when_there_are_no_restarts_left(render, tmp_path):
    proc = run_supervisor(render, {"faultTolerance": {"maxRestarts": 1}}, "exit 5", tmp_path)
    assert proc.returncode == 5
    assert proc.stderr.splitlines() == ["pytorch-supervisor: attempt 0 exited 5; restart 1/1",
                                        "pytorch-supervisor: attempt 1 exited 5; no restarts left"]


def test_should_never_retry_a_non_retriable_exit_code(render, tmp_path):
    proc = run_supervisor(render, {"faultTolerance": {"nonRetriableExitCodes": [2, 23]}}, "exit 23", tmp_path)
    assert proc.returncode == 23
    assert proc.stderr.splitlines() == ["pytorch-supervisor: attempt 0 exited 23; not retriable"]


def default_signal_dispositions() -> None:
    """What a container's first process starts with: no signal ignored. A test run started in the
    background of a non-interactive shell inherits SIGINT and SIGQUIT ignored, and a shell that
    starts with a signal ignored cannot trap it (POSIX), so the supervisor would never see INT."""
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_should_stop_the_attempt_on_a_signal_and_exit_with_its_status(render, tmp_path, sig):
    child = "trap 'echo TERM >\"$STATE/got\"; exit 7' TERM; touch \"$STATE/up\"; while :; do sleep 0.05; done"
    head = wrapper(render(merge(CODE, FT)))
    proc = subprocess.Popen([*head, "sh", "-c", child], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "STATE": str(tmp_path)}, preexec_fn=default_signal_dispositions)
    deadline = time.monotonic() + 20
    while not (tmp_path / "up").exists():
        assert time.monotonic() < deadline and proc.poll() is None, "the attempt did not start"
        time.sleep(0.02)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 7  # generous: under a loaded `make test` each step is slow
    assert (tmp_path / "got").read_text() == "TERM\n" and proc.stderr.read() == ""


# --- the success marker: success, then an abort at exit (docs/fault-tolerance.md) --------------

SUCCEEDED = {"name": "SUCCESS_FILE", "value": "/tmp/pytorch-succeeded"}
ABORT_LINE = "pytorch-supervisor: attempt 0 exited 134 (SIGABRT) after writing SUCCESS_FILE; counted as success"
ABORTED = "Aborted"   # what sh (dash) says when a child it waits for dies of SIGABRT


def test_should_give_the_supervised_script_a_success_file(render):
    assert env_entries(render(merge(CODE, FT)).container(), "SUCCESS_FILE") == [SUCCEEDED]


@pytest.mark.parametrize("values", [CODE, merge(CODE, HEARTBEAT), merge(CODE, TORCHRUN, FT)],
                         ids=["no-fault-tolerance", "heartbeat-alone", "elastic-torchrun"])
def test_should_set_no_success_file_without_the_supervisor(render, values):
    assert "SUCCESS_FILE" not in render(values).env()


@pytest.mark.parametrize("values", [
    {"torchEnv": {"SUCCESS_FILE": "/checkpoints/done"}},
    {"extraEnvVars": [{"name": "SUCCESS_FILE", "value": "/checkpoints/done"}]},
], ids=["torchEnv", "extraEnvVars"])
def test_should_leave_the_success_file_to_torch_env_or_extra_env_vars(render, values):
    assert env_entries(render(merge(CODE, FT, values)).container(), "SUCCESS_FILE") == [
        {"name": "SUCCESS_FILE", "value": "/checkpoints/done"}]


def no_core_dumps() -> None:
    """A process killed by SIGABRT leaves no core file, and sh says "Aborted", not
    "Aborted (core dumped)"."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_marked(render, values: dict, child: list[str], tmp_path) -> subprocess.CompletedProcess:
    """The rendered supervisor running CHILD, with SUCCESS_FILE in tmp_path, as the chart sets it."""
    head = wrapper(render(merge(CODE, FT, values)))
    return subprocess.run([*head, *child], capture_output=True, text=True, timeout=60, preexec_fn=no_core_dumps,
                          env={**os.environ, "STATE": str(tmp_path), "SUCCESS_FILE": str(tmp_path / "succeeded")})


def sh(script: str) -> list[str]:
    """A child that logs its attempt to $STATE/attempts, then runs SCRIPT (kill -ABRT $$: the
    shell dies of SIGABRT, as a process whose teardown aborts does)."""
    return ["sh", "-c", f'echo "$GROUP_RESTART_COUNT" >>"$STATE/attempts"; {script}']


def test_should_count_an_abort_after_the_success_file_as_success(render, tmp_path):
    proc = run_marked(render, {"faultTolerance": {"maxRestarts": 2}},
                      sh('touch "$SUCCESS_FILE"; kill -ABRT $$'), tmp_path)
    assert (proc.returncode, proc.stderr.splitlines()) == (0, [ABORTED, ABORT_LINE])
    assert (tmp_path / "attempts").read_text().split() == ["0"]


def test_should_restart_and_then_fail_an_abort_without_the_success_file(render, tmp_path):
    proc = run_marked(render, {"faultTolerance": {"maxRestarts": 1}}, sh("kill -ABRT $$"), tmp_path)
    assert proc.returncode == 134
    assert proc.stderr.splitlines() == [ABORTED, "pytorch-supervisor: attempt 0 exited 134; restart 1/1",
                                        ABORTED, "pytorch-supervisor: attempt 1 exited 134; no restarts left"]
    assert (tmp_path / "attempts").read_text().split() == ["0", "1"]


def test_should_fail_any_other_exit_code_after_the_success_file(render, tmp_path):
    """Only a crash at exit is forgiven: an exit code is the script's own verdict."""
    proc = run_marked(render, {"faultTolerance": {"maxRestarts": 0}}, sh('touch "$SUCCESS_FILE"; exit 1'), tmp_path)
    assert (proc.returncode, proc.stderr.splitlines()) == (1, ["pytorch-supervisor: attempt 0 exited 1; no restarts left"])


def test_should_remove_the_success_file_of_an_earlier_attempt(render, tmp_path):
    """Attempt 0 wrote the file and failed; attempt 1 aborts before writing it: a failure."""
    child = sh('[ "$GROUP_RESTART_COUNT" -ge 1 ] || { touch "$SUCCESS_FILE"; exit 9; }; kill -ABRT $$')
    proc = run_marked(render, {"faultTolerance": {"maxRestarts": 1}}, child, tmp_path)
    assert proc.returncode == 134
    assert proc.stderr.splitlines() == ["pytorch-supervisor: attempt 0 exited 9; restart 1/1",
                                        ABORTED, "pytorch-supervisor: attempt 1 exited 134; no restarts left"]
    assert not (tmp_path / "succeeded").exists()


@pytest.mark.parametrize("marked,rc,stderr", [
    (True, 0, [ABORTED, ABORT_LINE]),
    (False, 134, [ABORTED, "pytorch-supervisor: attempt 0 exited 134; not retriable"]),
], ids=["after-the-marker", "before-the-marker"])
def test_should_check_the_success_file_before_the_non_retriable_codes(render, tmp_path, marked, rc, stderr):
    touch = 'touch "$SUCCESS_FILE"; ' if marked else ""
    proc = run_marked(render, {"faultTolerance": {"nonRetriableExitCodes": [134, 2]}},
                      sh(f"{touch}kill -ABRT $$"), tmp_path)
    assert (proc.returncode, proc.stderr.splitlines()) == (rc, stderr)


PY_ABORT_AT_EXIT = ("import atexit, os, sys\n"
                    "print('rank 0/1: done', flush=True)\n"
                    "if sys.argv[1] == 'marker':\n"
                    "    open(os.environ['SUCCESS_FILE'], 'w').close()\n"
                    "atexit.register(os.abort)\n")


@pytest.mark.parametrize("where,rc,stderr", [
    ("marker", 0, [ABORTED, ABORT_LINE]),
    ("none", 134, [ABORTED, "pytorch-supervisor: attempt 0 exited 134; no restarts left"]),
])
def test_should_judge_a_python_abort_at_exit_by_the_success_file(render, tmp_path, where, rc, stderr):
    """A real python process that aborts in its exit handlers (os.abort via atexit, after its
    work), with and without the marker."""
    proc = run_marked(render, {"faultTolerance": {"maxRestarts": 0}},
                      [sys.executable, "-c", PY_ABORT_AT_EXIT, where], tmp_path)
    assert (proc.returncode, proc.stderr.splitlines(), proc.stdout) == (rc, stderr, "rank 0/1: done\n")
