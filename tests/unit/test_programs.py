"""templates/_programs.tpl and files/programs/: the programs the chart runs in the PyTorch
container (the supervisor, the launch wrapper, the heartbeat liveness probe), their volume and
mount, and the pods' checksum of them. Level: render; the programs themselves are linted with
shellcheck and run here as processes (their options, exit codes and edge cases; how the
supervisor restarts and stops is in test_faulttolerance.py, through the rendered command)."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from harness.presets import CODE, TORCHRUN, distributed, merge
from harness.render import chart_copy
from harness.tools import CHART

PROGRAMS = CHART / "files" / "programs"
SCRIPTS = sorted(PROGRAMS.glob("*.sh"))
FT = {"faultTolerance": {"enabled": True}}
HEARTBEAT = {"heartbeat": {"enabled": True}}
VOLUME = {"name": "programs", "configMap": {"name": "rel-pytorch-programs"}}
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
    assert m.get("ConfigMap", "rel-pytorch-programs")["data"] == {p.name: p.read_text() for p in PROGRAMS.iterdir()}


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
