"""The stack autopsy (docs/fault-tolerance.md, "When a rank hangs: the stack autopsy"), proved
with real torch processes started from the rendered pods (podsim.py) and the rendered liveness
probe run by the simulated kubelet.

Rank 2 of 4 hangs (the example's --fault-plan hang:2@9: alive, silent, no more heartbeats)
while the other ranks wait for it in the step's all_reduce. Every pod's heartbeat goes stale,
and its liveness probe runs the autopsy before the kubelet kills anything: every Python process
of every pod writes the stacks of all its threads into its log (rank 2 shows where it hangs,
the others the collective they wait in), and a line names rank 2 and its step, in the logs and
in the failing probe's output (the kubelet's Unhealthy Event). With each launcher: python
under the supervisor, and elastic torchrun (whose agent dumps too). A healthy run, armed the
same way, dumps nothing.
"""
from __future__ import annotations

import json
import re

import pytest

from harness.render import render
from runtime import podsim

pytestmark = pytest.mark.runtime

WORLD, HUNG, STEP = 4, 2, 9
EPOCHS, STEPS, EVERY = 6, 5, 4
HEARTBEAT = 8                  # heartbeat.timeoutSeconds
PERIOD, FAILURES = 2, 3        # livenessProbe.periodSeconds, .failureThreshold
COLLECTIVE = 60                # faultTolerance.collectiveTimeoutSeconds: longer than the heartbeat's
SHARED = ".pytorch-autopsy"    # on the checkpoint claim

FAULT = re.compile(r"\[rank (\d+)/\d+\] fault \d+: hang at step (\d+) \(pid \d+, at ([\d.]+)\)")
DUMP = re.compile(r"^pytorch-autopsy: (rank \d+|torchrun) \(pid (\d+), pod (\S+)\): (?:heartbeat stale for \d+ s|"
                  r"another rank's heartbeat is stale), last step (\d+|\?); stacks of all its threads follow", re.M)
MAIN = re.compile(r"^pytorch-autopsy: rank (\d+): its main thread (.*)$", re.M)
CULPRIT = re.compile(r"^pytorch-autopsy: culprit: (.*)$", re.M)
OUTSIDE = re.compile(r"is outside any collective, in maybe_fire \(ddp_train\.py:\d+\)")
WAITING = re.compile(r"waits in all_reduce, called from train \(ddp_train\.py:\d+\)")


def world(launcher: str, fault_plan: str, *extra: str) -> podsim.World:
    args = ["--epochs", str(EPOCHS), "--steps", str(STEPS), *extra] + (["--fault-plan", fault_plan] if fault_plan else [])
    sets = ["mode=distributed", f"worldSize={WORLD}", f"launcher={launcher}", "examples.enabled=true",
            "persistence.enabled=false", "faultTolerance.enabled=true", "faultTolerance.maxRestarts=6",
            f"faultTolerance.collectiveTimeoutSeconds={COLLECTIVE}", "checkpoint.persistence.enabled=true",
            f"checkpoint.everySteps={EVERY}", "heartbeat.enabled=true", f"heartbeat.timeoutSeconds={HEARTBEAT}",
            "livenessProbe.initialDelaySeconds=0", f"livenessProbe.periodSeconds={PERIOD}",
            f"livenessProbe.failureThreshold={FAILURES}", "livenessProbe.timeoutSeconds=4"]
    return podsim.plan(list(render({"entrypoint": {"args": args}}, *sets)))


def reports(wr: podsim.WorldRun) -> list[dict]:
    """Every pod's autopsy report on the shared checkpoint claim."""
    [claim] = [d for d in (wr.root / "claims").iterdir() if (d / SHARED).is_dir()] or [None]
    assert claim is not None, f"no {SHARED} on any claim:\n{wr.logs()}"
    return [json.loads(p.read_text()) for p in sorted((claim / SHARED / "episodes").glob("*/pod-*.json"))]


def armed(run: podsim.PodRun) -> list[str]:
    """The header lines of the pod's stack files (one per Python process sitecustomize armed)."""
    stacks = run.mapping["/tmp"] / "pytorch-autopsy" / "stacks"
    return sorted(p.read_text().splitlines()[0] for p in stacks.iterdir()) if stacks.is_dir() else []


@pytest.mark.parametrize("launcher", ["python", "torchrun"])
def test_should_dump_every_rank_and_name_the_hung_one(launcher, runtime_ready, world_dir, record_property):
    # No restarts from the simulator: the run ends after the probes' kills; the dumps come before.
    wr = podsim.run(world(launcher, f"hang:{HUNG}@{STEP}"), deadline=400, root=world_dir, probes=True)
    logs = {r.pod.name: r.output for r in wr.runs}
    everything = "\n".join(logs.values())
    faults = [(int(m.group(1)), int(m.group(2)), float(m.group(3))) for m in FAULT.finditer(everything)]
    assert [(r, s) for r, s, _ in faults] == [(HUNG, STEP)], wr.logs()
    hung_at = faults[0][2]
    hung_pod = next(name for name, text in logs.items() if FAULT.search(text))

    # Every Python process of every pod dumped once: the rank (and, under torchrun, its agent).
    per_pod = 2 if launcher == "torchrun" else 1
    for run in wr.runs:
        dumps = DUMP.findall(run.output)
        assert len(dumps) == per_pod, (run.pod.name, dumps, run.output[-3000:])
        assert {d[2] for d in dumps} == {run.pod.name} and {d[3] for d in dumps} == {str(STEP)}, dumps
        assert len(armed(run)) == per_pod, armed(run)
    # Rank 2's stacks show the hang; every other rank's, the all_reduce it waits in.
    mains = {int(r): where for r, where in MAIN.findall(everything)}
    assert sorted(mains) == list(range(WORLD)), mains
    assert OUTSIDE.fullmatch(mains[HUNG]), mains[HUNG]
    for rank in set(range(WORLD)) - {HUNG}:
        assert WAITING.fullmatch(mains[rank]), (rank, mains[rank])
    assert re.search(r"^pytorch-autopsy: rank 2 \|   File \"\S+/ddp_train\.py\", line \d+ in maybe_fire$",
                     logs[hung_pod], re.M)
    assert re.search(r"^pytorch-autopsy: rank 0 \|   File \"\S+/torch/distributed/distributed_c10d\.py\", "
                     r"line \d+ in all_reduce$", everything, re.M)

    # The culprit: the same line wherever it is printed, naming rank 2, its pod and its step.
    culprits = set(CULPRIT.findall(everything))
    assert len(culprits) == 1, culprits
    culprit = culprits.pop()
    assert culprit.startswith(f"rank {HUNG} (pod {hung_pod}) stopped first, at step {STEP}: it is outside "
                              "any collective, in maybe_fire ("), culprit
    assert re.search(r"; ranks 0, 1, 3 wait in all_reduce, called from train \(ddp_train\.py:\d+\)$", culprit), culprit
    unhealthy = [e for e in wr.events if e["what"].startswith("unhealthy: ") and "culprit: rank 2 " in e["what"]]
    assert unhealthy, wr.events

    # All four pods reported, before the first probe killed a pod (so before any restart).
    found = reports(wr)
    assert sorted(r["pod_rank"] for r in found) == list(range(WORLD)), found
    kills = [e["t"] for e in wr.events if e["what"].startswith("liveness probe failed")]
    assert kills, wr.events
    last_dump = max(r["time"] for r in found)
    assert last_dump < min(kills), (found, wr.events)
    assert last_dump - hung_at <= HEARTBEAT + 30, (hung_at, last_dump)
    record_property("autopsy", {"launcher": launcher, "hang": f"{HUNG}@{STEP}",
                                "first_dump_after_hang_s": round(min(r["time"] for r in found) - hung_at, 1),
                                "last_dump_after_hang_s": round(last_dump - hung_at, 1),
                                "first_kill_after_hang_s": round(min(kills) - hung_at, 1), "wall_s": round(wr.wall, 1)})


@pytest.mark.parametrize("launcher", ["python", "torchrun"])
def test_should_dump_nothing_in_a_healthy_run(launcher, runtime_ready, world_dir, record_property):
    # 0.2 s a step: six seconds of training or more, every probe period of them with a fresh heartbeat.
    wr = podsim.run(world(launcher, "", "--step-seconds", "0.2"), deadline=400, root=world_dir, probes=True)
    assert [r.rc for r in wr.runs] == [0] * WORLD, wr.logs()
    assert sorted(r["rank"] for r in wr.results()) == list(range(WORLD)), wr.logs()
    # Armed (every Python process registered its dump), yet silent.
    for run in wr.runs:
        assert armed(run) and all(line.startswith("# pytorch-stacks pid=") for line in armed(run)), armed(run)
        assert "pytorch-autopsy" not in run.output, run.output[-3000:]
    assert [e for e in wr.events if e["what"].startswith("unhealthy")] == []
    claim = next(d for d in (wr.root / "claims").iterdir() if (d / "ddp_train").is_dir())
    assert not (claim / SHARED).exists()
    assert all(run.probes >= 3 for run in wr.runs), [run.probes for run in wr.runs]
    record_property("autopsy", {"launcher": launcher, "healthy": True, "dumps": 0,
                                "liveness_probe_runs": [run.probes for run in wr.runs], "wall_s": round(wr.wall, 1)})
