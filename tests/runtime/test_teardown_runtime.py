"""The example keeps the success-marker contract under the chart's supervisor
(docs/fault-tolerance.md, "Success, then an abort at exit"), proved with real torch processes
started from the rendered pods (podsim.py): launcher=python with faultTolerance.enabled.

Every rank that finished creates SUCCESS_FILE (the pod's /tmp volume) just before it leaves;
when a rank is killed mid-training no rank creates it, and the pods fail as before.
"""
from __future__ import annotations

import pytest

from harness.render import render
from runtime import podsim

pytestmark = pytest.mark.runtime

WORLD = 3


def world(*args: str) -> podsim.World:
    sets = ["mode=distributed", f"worldSize={WORLD}", "examples.enabled=true", "faultTolerance.enabled=true",
            "faultTolerance.maxRestarts=0"]
    return podsim.plan(list(render({"entrypoint": {"args": ["--epochs", "1", "--steps", "3", "--timeout", "120",
                                                             *args]}}, *sets)))


def markers(wr: podsim.WorldRun) -> dict[str, bool]:
    """pod -> whether its SUCCESS_FILE exists; each pod's SUCCESS_FILE is its own /tmp volume's."""
    found = {}
    for run in wr.runs:
        marker = run.mapping["/tmp"] / "pytorch-succeeded"
        assert run.env["SUCCESS_FILE"] == str(marker), run.env["SUCCESS_FILE"]
        found[run.pod.name] = marker.exists()
    return found


def test_should_create_the_success_file_on_every_rank_that_finished(runtime_ready, world_dir):
    wr = podsim.run(world(), deadline=240, root=world_dir)
    logs = wr.logs()
    assert [r.rc for r in wr.runs] == [0] * WORLD, logs
    assert sorted(r["rank"] for r in wr.results() if r["ok"]) == list(range(WORLD)), logs
    assert markers(wr) == {run.pod.name: True for run in wr.runs}, logs


def test_should_create_no_success_file_when_a_rank_is_killed(runtime_ready, world_dir):
    wr = podsim.run(world("--fault-plan", "kill:1@2"), deadline=240, root=world_dir)
    logs = wr.logs()
    assert wr.results() == [], logs
    rcs = {run.pod.index: run.rc for run in wr.runs}
    assert rcs[1] == 137 and rcs[0] != 0 and rcs[2] != 0, (rcs, logs)   # 137: SIGKILL, through sh
    assert markers(wr) == {run.pod.name: False for run in wr.runs}, logs
