"""templates/_programs.tpl and files/programs/: the programs the chart runs in the PyTorch
container (the supervisor, the launch wrapper, the heartbeat liveness probe), their volume and
mount, and the pods' checksum of them. Level: render; the programs themselves are linted with
shellcheck and run here as processes (their options, exit codes and edge cases; how the
supervisor restarts and stops is in test_faulttolerance.py, through the rendered command)."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from harness.presets import CODE, TORCHRUN, distributed, merge
from harness.render import chart_copy
from harness.tools import CHART

PROGRAMS = CHART / "files" / "programs"
SCRIPTS = sorted(PROGRAMS.glob("*.sh"))
PYTHON_DIR = PROGRAMS / "python"
FT = {"faultTolerance": {"enabled": True}}
HEARTBEAT = {"heartbeat": {"enabled": True}}
# ConfigMap key -> path below files/programs/ ("/" is spelled "." in a key); .helmignore keeps
# Python's byte code out of the chart.
FILES = {str(p.relative_to(PROGRAMS)).replace("/", "."): str(p.relative_to(PROGRAMS))
         for p in sorted(PROGRAMS.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}
VOLUME = {"name": "programs", "configMap": {"name": "rel-pytorch-programs", "items": [
    {"key": "autopsy.py", "path": "autopsy.py"}, {"key": "launch.sh", "path": "launch.sh"},
    {"key": "liveness.sh", "path": "liveness.sh"}, {"key": "python.sitecustomize.py", "path": "python/sitecustomize.py"},
    {"key": "supervisor.sh", "path": "supervisor.sh"}]}}
MOUNT = {"name": "programs", "mountPath": "/opt/pytorch-chart", "readOnly": True}


def template_metadata(m) -> dict:
    return m.workload()["spec"]["template"]["metadata"]


# --- render: when the programs are mounted --------------------------------------------------

@pytest.mark.parametrize("values", [merge(CODE, FT), merge(CODE, HEARTBEAT), HEARTBEAT,
                                    merge(CODE, TORCHRUN, distributed(5), HEARTBEAT)],
                         ids=["python-supervisor", "heartbeat", "heartbeat-without-entrypoint", "torchrun-heartbeat"])
def test_should_mount_the_programs_read_only_when_the_container_runs_one(render, values):
    m = render(values)
    assert m.volumes()["programs"] == VOLUME
    assert m.mounts()["/opt/pytorch-chart"] == MOUNT


@pytest.mark.parametrize("values", [{}, CODE, merge(CODE, TORCHRUN, distributed(5), FT)],
                         ids=["default", "entrypoint", "elastic-torchrun"])
def test_should_mount_no_programs_when_none_runs(render, values):
    m = render(values)
    assert "programs" not in m.volumes() and "/opt/pytorch-chart" not in m.mounts()
    assert "checksum/programs" not in template_metadata(m).get("annotations", {})


@pytest.mark.parametrize("values", [merge(CODE, FT, HEARTBEAT), {"examples": {"enabled": True}, **FT, **HEARTBEAT}],
                         ids=["existing-configMap", "chart-files"])
def test_should_ship_the_programs_in_their_own_configmap_wherever_the_files_come_from(render, values):
    """`configMap` names the user's ConfigMap (mounted at /app); the programs still come from the
    chart's own, and both are mounted."""
    m = render(values)
    files = "code" if "configMap" in values else "rel-pytorch-files"
    assert m.volumes()["files"] == {"name": "files", "configMap": {"name": files}}
    assert m.volumes()["programs"] == VOLUME
    assert m.get("ConfigMap", "rel-pytorch-programs")["data"] == {k: (PROGRAMS / v).read_text() for k, v in FILES.items()}


# --- render: the checksum that rolls the pods ------------------------------------------------

def test_should_roll_the_pods_when_a_program_changes_and_only_then(render, tmp_path_factory):
    def checksum(values: dict, changed: str = "") -> str:
        extra = {"files/programs/launch.sh": (PROGRAMS / "launch.sh").read_text() + changed} if changed else {}
        chart = chart_copy(tmp_path_factory.mktemp("chart"), extra) if changed else CHART
        return template_metadata(render(values, chart=chart))["annotations"]["checksum/programs"]

    first = checksum(merge(CODE, FT))
    assert len(first) == 64 and int(first, 16) >= 0
    assert checksum(merge(CODE, FT, HEARTBEAT, {"faultTolerance": {"maxRestarts": 7}})) == first
    assert checksum(merge(CODE, FT), changed="# one more line\n") != first


# --- render: the helpers' own checks ---------------------------------------------------------

def test_should_refuse_a_program_the_chart_does_not_have(probe):
    error = probe('{{ include "pytorch.programs.path" (dict "name" "nope.sh" "context" $) }}', error=True)
    assert "pytorch.programs.path: no program files/programs/nope.sh in the chart" in error


# --- the programs as programs ----------------------------------------------------------------

def shellcheck() -> str:
    path = shutil.which("shellcheck")
    if not path:
        pytest.fail("shellcheck is missing: run `make shellcheck` (it installs Debian's shellcheck with "
                    "apt-get), or `apt-get install shellcheck`", pytrace=False)
    return path


def test_should_find_no_shellcheck_finding_in_any_program():
    assert [p.name for p in SCRIPTS] == ["launch.sh", "liveness.sh", "supervisor.sh"]
    proc = subprocess.run([shellcheck(), "--shell=sh", "--severity=style", "--external-sources", *SCRIPTS],
                          capture_output=True, text=True)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def test_should_ship_every_program_in_the_volume_items():
    """Every file of files/programs/ is an item of the volume (python/ stays a folder: PYTHONPATH)."""
    assert {i["key"]: i["path"] for i in VOLUME["configMap"]["items"]} == FILES


def test_should_compile_the_python_programs():
    for path in (PROGRAMS / "autopsy.py", PYTHON_DIR / "sitecustomize.py"):
        compile(path.read_text(), str(path), "exec")


def run(program: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(PROGRAMS / program), *args], capture_output=True, text=True, timeout=30,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("program,args,message", [
    ("supervisor.sh", ["--max-restarts=two", "--", "true"], "--max-restarts wants a number, not 'two'"),
    ("supervisor.sh", ["--non-retriable-exit-codes=2 3", "--", "true"],
     "--non-retriable-exit-codes wants numbers separated by commas, not '2 3'"),
    ("supervisor.sh", ["--restarts=2", "--", "true"], "unknown option: --restarts=2"),
    ("supervisor.sh", ["--max-restarts=2", "--"], "no command after --"),
    ("launch.sh", ["--heartbeats", "--", "true"], "unknown option: --heartbeats"),
    ("launch.sh", ["--heartbeat"], "no command after --"),
    ("liveness.sh", ["--timeout=9"], "unknown option: --timeout=9"),
    ("liveness.sh", [], "--timeout-seconds wants a number, not ''"),
])
def test_should_refuse_wrong_options_with_a_usage_line(program, args, message):
    proc = run(program, *args)
    name = {"supervisor.sh": "pytorch-supervisor", "launch.sh": "pytorch-launch", "liveness.sh": "pytorch-liveness"}
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == f"{name[program]}: {message}"
    assert proc.stderr.splitlines()[1].startswith(f"usage: sh {program} ")


def test_should_run_the_supervisor_without_a_success_file(tmp_path):
    """SUCCESS_FILE unset (not the chart's case): nothing to remove, and an abort is a failure."""
    env = {k: v for k, v in os.environ.items() if k != "SUCCESS_FILE"}
    proc = subprocess.run(["sh", str(PROGRAMS / "supervisor.sh"), "--max-restarts=1", "--", "sh", "-c",
                           'echo "$GROUP_RESTART_COUNT/$MAX_RESTARTS"; exit 3'],
                          capture_output=True, text=True, timeout=30, env=env)
    assert (proc.returncode, proc.stdout.split(), proc.stderr.splitlines()) == (
        3, ["0/1", "1/1"], ["pytorch-supervisor: attempt 0 exited 3; restart 1/1",
                            "pytorch-supervisor: attempt 1 exited 3; no restarts left"])


def test_should_remove_the_probe_files_then_exec_the_command_in_the_same_process(tmp_path):
    beat, ready = tmp_path / "alive", tmp_path / "ready"
    beat.touch()
    ready.touch()
    proc = subprocess.Popen(["sh", str(PROGRAMS / "launch.sh"), "--heartbeat", "--", "sh", "-c",
                             'echo "$$"; [ ! -e "$HEARTBEAT_FILE" ] && [ ! -e "$READY_FILE" ]; exit $(( $? + 40 ))'],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "HEARTBEAT_FILE": str(beat), "READY_FILE": str(ready)})
    out, _ = proc.communicate(timeout=30)
    assert (proc.returncode, out) == (40, f"{proc.pid}\n")


def test_should_leave_the_probe_files_without_the_heartbeat_option(tmp_path):
    beat = tmp_path / "alive"
    beat.touch()
    proc = run("launch.sh", "--", "sh", "-c", 'test -e "$HEARTBEAT_FILE"', env={"HEARTBEAT_FILE": str(beat)})
    assert proc.returncode == 0 and beat.exists()


@pytest.mark.parametrize("age,rc", [(None, 0), (0, 0), (5, 0), (9, 1), (3600, 1)])
def test_should_fail_liveness_from_the_timeout_on(tmp_path, age, rc):
    beat = tmp_path / "alive"
    if age is not None:
        beat.touch()
        os.utime(beat, (time.time() - age, time.time() - age))
    assert run("liveness.sh", "--timeout-seconds=9", env={"HEARTBEAT_FILE": str(beat)}).returncode == rc


def test_should_pass_liveness_without_a_heartbeat_file_variable():
    env = {k: v for k, v in os.environ.items() if k != "HEARTBEAT_FILE"}
    proc = subprocess.run(["sh", str(PROGRAMS / "liveness.sh"), "--timeout-seconds=1"], env=env)
    assert proc.returncode == 0


# --- the stack autopsy: sitecustomize.py, launch.sh --stack-dumps, liveness.sh, autopsy.py ---

# Prints its pid from inside hang(), so that once the pid is read the main thread is in hang().
SLEEPER = ("import os, sys, threading, time\n"
           "def hang():\n"
           "    print(os.getpid(), flush=True)\n"
           "    time.sleep(600)\n"
           "threading.Thread(target=lambda: time.sleep(600), name='helper', daemon=True).start()\n"
           "hang()\n")


def load_autopsy():
    spec = importlib.util.spec_from_file_location("autopsy", PROGRAMS / "autopsy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_for(what: str, check, seconds: float = 60.0, state=lambda: ""):
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"no {what} within {seconds:g} s: {state()}"
        time.sleep(0.02)
    return found


@pytest.fixture
def armed_python(tmp_path):
    """start(code, **env) -> a python process started through launch.sh --stack-dumps, its
    stderr in tmp_path/stderr-<n>; every one is killed afterwards."""
    started = []

    def start(code: str = SLEEPER, **env: str) -> subprocess.Popen:
        err = open(tmp_path / f"stderr-{len(started)}", "wb")
        proc = subprocess.Popen(["sh", str(PROGRAMS / "launch.sh"), "--heartbeat", f"--stack-dumps={tmp_path / 'ap'}",
                                 "--", sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "HEARTBEAT_FILE": str(tmp_path / "alive"), **env})
        started.append(proc)
        assert int(proc.stdout.readline()) == proc.pid  # launch.sh exec'd python: the same process
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_should_arm_python_to_dump_every_thread_on_sigusr1(armed_python, tmp_path):
    proc = armed_python(RANK="3", WORLD_SIZE="5")
    stacks = tmp_path / "ap" / "stacks" / str(proc.pid)
    assert stacks.read_text() == f"# pytorch-stacks pid={proc.pid} RANK=3 WORLD_SIZE=5 argv=-c\n"
    proc.send_signal(signal.SIGUSR1)
    text = wait_for("dump", lambda: "in hang" in stacks.read_text() and stacks.read_text(),
                    state=lambda: f"exit status {proc.poll()}, dump file {stacks.read_text()!r}")
    assert proc.poll() is None  # a dump, not a death
    assert re.search(r'^  File "<string>", line [34] in hang$', text, re.M)
    assert len(re.findall(r"^(?:Current thread|Thread) 0x[0-9a-f]+ \(most recent call first\):$", text, re.M)) == 2


def test_should_keep_the_users_pythonpath_after_the_programs(tmp_path):
    proc = run("launch.sh", f"--stack-dumps={tmp_path}", "--", "sh", "-c", 'echo "$PYTHONPATH $PYTORCH_STACK_DUMP_DIR"',
               env={"PYTHONPATH": "/opt/user:/opt/more"})
    assert proc.stdout == f"{PYTHON_DIR}:/opt/user:/opt/more {tmp_path}/stacks\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(["sh", str(PROGRAMS / "launch.sh"), f"--stack-dumps={tmp_path}", "--", "sh", "-c",
                           'echo "$PYTHONPATH"'], capture_output=True, text=True, env=env)
    assert proc.stdout == f"{PYTHON_DIR}\n"


def test_should_remove_the_dumps_of_the_previous_run(tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "12345").write_text("# pytorch-stacks pid=12345 argv=old\n")
    proc = run("launch.sh", f"--stack-dumps={tmp_path}", "--", "sh", "-c", 'ls -A "$PYTORCH_STACK_DUMP_DIR" | wc -l')
    assert proc.stdout.strip() == "0"


def test_should_import_the_sitecustomize_it_hides(tmp_path):
    """The image's or the user's own sitecustomize still runs, after the chart's."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import os\nos.environ['THEIRS'] = 'ran'\n")
    proc = subprocess.run([sys.executable, "-c", "import os, signal; print(os.environ.get('THEIRS'), "
                           "signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL)"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": f"{PYTHON_DIR}:{theirs}",
                               "PYTORCH_STACK_DUMP_DIR": str(tmp_path / "stacks")})
    assert proc.stdout == "ran True\n", proc.stderr  # faulthandler's handler is not a Python-level one
    assert len(list((tmp_path / "stacks").iterdir())) == 1


def test_should_arm_nothing_without_the_dump_folder(tmp_path):
    code = ("import os, re\n"
            "mask = re.search(r'SigCgt:\\s*(\\w+)', open('/proc/self/status').read()).group(1)\n"
            "print(int(mask, 16) >> 9 & 1)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTORCH_STACK_DUMP_DIR"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(PYTHON_DIR)})
    assert proc.stdout == "0\n", proc.stderr


def test_should_give_a_forked_child_a_dump_file_of_its_own(tmp_path):
    code = ("import os\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    os._exit(0)\n"
            "os.waitpid(pid, 0)\n"
            "print(os.getpid(), pid)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(PYTHON_DIR), "PYTORCH_STACK_DUMP_DIR": str(tmp_path)})
    parent, child = map(int, proc.stdout.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([str(parent), str(child)])
    assert (tmp_path / str(child)).read_text().startswith(f"# pytorch-stacks pid={child} ")


def stale(path, seconds: float) -> None:
    path.write_text("41\n")
    os.utime(path, (time.time() - seconds, time.time() - seconds))


def liveness_args(tmp_path, *extra: str) -> list[str]:
    return [f"--autopsy-dir={tmp_path / 'ap'}", "--period-seconds=1", "--failure-threshold=3",
            "--probe-timeout-seconds=5", *extra]


POD = {"RANK": "0", "WORLD_SIZE": "1", "POD_NAME": "rel-pytorch-0"}


def test_should_dump_a_stalled_rank_into_its_own_log_once(armed_python, tmp_path):
    proc = armed_python(**POD)
    stale(tmp_path / "alive", 30)
    first = run("liveness.sh", "--timeout-seconds=20", *liveness_args(tmp_path),
                env={**POD, "HEARTBEAT_FILE": str(tmp_path / "alive")})
    assert first.returncode == 1
    lines = first.stdout.splitlines()
    assert re.fullmatch(r"heartbeat stale for 3[01] s \(timeout 20 s\)", lines[0]), lines[0]
    assert lines[1:] == ["stacks of 1 process(es) written to the log; culprit: rank 0 (pod rel-pytorch-0) "
                         "stopped first, at step 41: it is outside any collective, in hang (<string>:4)"]
    log = (tmp_path / "stderr-0").read_text().splitlines()
    assert re.fullmatch(rf"pytorch-autopsy: rank 0 \(pid {proc.pid}, pod rel-pytorch-0\): heartbeat stale for 3[01] s, "
                        r"last step 41; stacks of all its threads follow \(-c\)", log[0]), log[0]
    assert 'pytorch-autopsy: rank 0 |   File "<string>", line 4 in hang' in log
    assert "pytorch-autopsy: rank 0: its main thread is outside any collective, in hang (<string>:4)" in log
    assert log[-1] == "pytorch-autopsy: " + lines[1].split("; ", 1)[1]
    # The next failing probe of the same stall: no second dump, the same verdict.
    again = run("liveness.sh", "--timeout-seconds=20", *liveness_args(tmp_path),
                env={**POD, "HEARTBEAT_FILE": str(tmp_path / "alive")})
    assert again.returncode == 1 and again.stdout.splitlines()[1] == lines[1].split("; ", 1)[1]
    assert (tmp_path / "stderr-0").read_text().splitlines() == log


def test_should_dump_before_the_collective_timeout_and_still_pass(armed_python, tmp_path):
    """heartbeat.timeoutSeconds 100, PG_TIMEOUT_SECONDS 30: the ranks waiting in a collective
    give up after 30 s, so the stacks are taken from 30 - 2 x 1 - 5 = 23 s on; the probe passes."""
    armed_python(**POD)
    env = {**POD, "HEARTBEAT_FILE": str(tmp_path / "alive"), "PG_TIMEOUT_SECONDS": "30"}
    stale(tmp_path / "alive", 20)
    assert run("liveness.sh", "--timeout-seconds=100", *liveness_args(tmp_path), env=env).stdout == ""
    stale(tmp_path / "alive", 24)
    proc = run("liveness.sh", "--timeout-seconds=100", *liveness_args(tmp_path), env=env)
    assert proc.returncode == 0 and proc.stdout.startswith("stacks of 1 process(es) written to the log; culprit: ")


def test_should_dump_nothing_while_the_heartbeat_is_fresh_or_absent(armed_python, tmp_path):
    armed_python(**POD)
    for beat in (None, 3):
        if beat is not None:
            stale(tmp_path / "alive", beat)
        proc = run("liveness.sh", "--timeout-seconds=20", *liveness_args(tmp_path),
                   env={**POD, "HEARTBEAT_FILE": str(tmp_path / "alive")})
        assert (proc.returncode, proc.stdout) == (0, "")
    assert (tmp_path / "stderr-0").read_text() == ""


def test_should_dump_when_another_pod_raised_an_alarm(armed_python, tmp_path):
    """Pod 1 of 2 beats on, pod 0 is stalled and said so on the shared volume: pod 1 dumps too,
    its probe passes, and the verdict names pod 0's rank."""
    shared = tmp_path / "shared"
    (shared / "episodes" / "1000-0").mkdir(parents=True)
    (shared / "alarm-0").write_text("1000-0\n")
    (shared / "episodes" / "1000-0" / "pod-0.json").write_text(json.dumps({
        "pod_rank": 0, "pod": "rel-pytorch-0", "pods": 2, "trigger": "failing", "step": 40, "beat": 900.0,
        "age": 100.0, "time": 1000.0, "episode": "1000-0", "processes": [
            {"pid": 7, "rank": 0, "argv": "train.py", "collective": None, "at": "load (/app/train.py:9)",
             "innermost": "read (/usr/lib/python3.11/socket.py:1)"}]}))
    pod1 = {"RANK": "1", "WORLD_SIZE": "2", "POD_NAME": "rel-pytorch-1", "HEARTBEAT_FILE": str(tmp_path / "alive")}
    proc = armed_python(**pod1)
    stale(tmp_path / "alive", 1)
    out = run("liveness.sh", "--timeout-seconds=20", *liveness_args(tmp_path, f"--shared-dir={shared}"), env=pod1)
    assert out.returncode == 0
    assert out.stdout == ("stacks of 1 process(es) written to the log; culprit: rank 0 (pod rel-pytorch-0) stopped "
                          "first, at step 40: it is outside any collective, in read (/usr/lib/python3.11/socket.py:1) "
                          "(told by the heartbeats: the stacks set no rank apart); rank 1 is outside any collective, "
                          "in hang (<string>:4)\n")
    assert (tmp_path / "stderr-0").read_text().splitlines()[0] == (
        f"pytorch-autopsy: rank 1 (pid {proc.pid}, pod rel-pytorch-1): another rank's heartbeat is stale, last step "
        "41; stacks of all its threads follow (-c)")
    assert json.loads((shared / "episodes" / "1000-0" / "pod-1.json").read_text())["trigger"] == "peer"
    # Pod 1's own alarm would come down with a fresh heartbeat; pod 0's stays.
    assert sorted(p.name for p in shared.glob("alarm-*")) == ["alarm-0"]


def test_should_not_signal_a_process_that_does_not_catch_the_signal(tmp_path):
    """A dump file whose pid now belongs to another process (pid reuse) is left alone."""
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        stacks = tmp_path / "ap" / "stacks"
        stacks.mkdir(parents=True)
        (stacks / str(sleeper.pid)).write_text(f"# pytorch-stacks pid={sleeper.pid} RANK=0 argv=x\n")
        autopsy = load_autopsy()
        assert autopsy.armed_processes(stacks) == []
        stale(tmp_path / "alive", 30)
        proc = run("liveness.sh", "--timeout-seconds=20", *liveness_args(tmp_path),
                   env={**POD, "HEARTBEAT_FILE": str(tmp_path / "alive")})
        assert proc.returncode == 1 and sleeper.poll() is None
        assert "no Python process is armed for stack dumps" in proc.stdout
    finally:
        sleeper.kill()
        sleeper.wait()


# --- autopsy.py: reading the dumps and naming the culprit ---------------------------------

DUMP_TEXT = """Thread 0x00007f4a21f3d6c0 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 324 in wait
  File "/usr/lib/python3.11/threading.py", line 1002 in _bootstrap

Current thread 0x00007f4a22a90b80 (most recent call first):
  File "/usr/lib/python3/dist-packages/torch/distributed/distributed_c10d.py", line 4181 in all_reduce
  File "/usr/lib/python3/dist-packages/torch/distributed/c10d_logger.py", line 83 in wrapper
  File "/app/train.py", line 460 in train
  File "/app/train.py", line 600 in <module>
"""


def test_should_find_the_collective_the_main_thread_waits_in():
    autopsy = load_autopsy()
    stacks = autopsy.threads(DUMP_TEXT)
    assert [len(frames) for frames in stacks] == [2, 4]
    assert autopsy.place(autopsy.main_thread(stacks)) == {
        "collective": "all_reduce", "at": "train (train.py:460)", "innermost": "all_reduce (distributed_c10d.py:4181)"}


def test_should_count_a_wait_in_backward_as_a_collective():
    autopsy = load_autopsy()
    frames = autopsy.threads('Current thread 0x1 (most recent call first):\n'
                             '  File "/v/site-packages/torch/autograd/graph.py", line 8 in _engine_run_backward\n'
                             '  File "/app/t.py", line 5 in step\n')
    assert autopsy.place(autopsy.main_thread(frames))["collective"] == "backward"


def report(pod_rank: int, step: int | None, beat: float, *procs: tuple) -> dict:
    return {"pod_rank": pod_rank, "pod": f"p-{pod_rank}", "step": step, "beat": beat,
            "processes": [{"rank": r, "collective": c, "at": a, "innermost": f"inner{r}"} for r, c, a in procs]}


def test_should_name_the_rank_outside_the_collective_the_others_wait_in():
    autopsy = load_autopsy()
    reports = [report(0, 9, 100.0, (0, "all_reduce", "train (t.py:5)")),
               report(1, 9, 101.0, (1, None, "load (t.py:2)")),
               report(2, 9, 99.0, (2, "all_reduce", "train (t.py:5)"))]
    assert autopsy.verdict(reports, 3) == ("pytorch-autopsy: culprit: rank 1 (pod p-1) stopped first, at step 9: it "
                                          "is outside any collective, in inner1; ranks 0, 2 wait in all_reduce, "
                                          "called from train (t.py:5)")


def test_should_fall_back_on_the_heartbeats_when_the_stacks_set_no_rank_apart():
    autopsy = load_autopsy()
    reports = [report(0, 12, 50.0, (0, "all_reduce", "a (t.py:1)"), (1, "all_reduce", "a (t.py:1)")),
               report(1, 11, 70.0, (2, "barrier", "b (t.py:2)"), (3, "barrier", "b (t.py:2)"))]
    assert autopsy.verdict(reports, 3) == (
        "pytorch-autopsy: culprit: rank 2 (pod p-1) stopped first, at step 11: it waits in barrier, called from "
        "b (t.py:2) (told by the heartbeats: the stacks set no rank apart); ranks 0, 1 wait in all_reduce, called "
        "from a (t.py:1); rank 3 waits in barrier, called from b (t.py:2); no report from pod rank 2")


def test_should_name_a_rank_that_does_not_answer_while_the_others_wait():
    autopsy = load_autopsy()
    reports = [report(0, 30, 100.0, (0, "all_reduce", "train (t.py:5)")),
               {**report(1, 30, 100.5), "processes": [{"rank": 1, "collective": None, "at": None, "innermost": None,
                                                       "answered": False}]}]
    assert autopsy.verdict(reports, 2) == ("pytorch-autopsy: culprit: rank 1 (pod p-1) stopped first, at step 30: it "
                                          "did not answer SIGUSR1 (stopped, or stuck in the kernel); rank 0 waits in "
                                          "all_reduce, called from train (t.py:5)")


def test_should_report_a_stopped_process_that_cannot_dump(armed_python, tmp_path):
    """SIGSTOP: alive, and no signal handler runs; the autopsy waits until its deadline, says so
    and still fails the probe in time."""
    proc = armed_python(**POD)
    proc.send_signal(signal.SIGSTOP)
    stale(tmp_path / "alive", 30)
    started = time.monotonic()
    out = run("liveness.sh", "--timeout-seconds=20", *liveness_args(tmp_path)[:-1], "--probe-timeout-seconds=3",
              env={**POD, "HEARTBEAT_FILE": str(tmp_path / "alive")})
    assert out.returncode == 1 and time.monotonic() - started < 3 + 1
    assert out.stdout.splitlines()[1] == ("stacks of 1 process(es) written to the log; culprit: rank 0 (pod "
                                          "rel-pytorch-0) stopped first, at step 41: it did not answer SIGUSR1 "
                                          "(stopped, or stuck in the kernel)")
    assert (tmp_path / "stderr-0").read_text().splitlines()[1:] == [
        "pytorch-autopsy: rank 0: did not answer SIGUSR1 (stopped, or stuck in the kernel)",
        "pytorch-autopsy: culprit: rank 0 (pod rel-pytorch-0) stopped first, at step 41: it did not answer SIGUSR1 "
        "(stopped, or stuck in the kernel)"]
