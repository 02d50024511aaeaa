"""A rank that dies does not lose the run (docs/fault-tolerance.md), proved with real torch
processes started from the rendered pods (podsim.py).

A world of 4 ranks trains with faultTolerance.enabled and the shared checkpoint claim. The
example script's --fault-plan kills one rank's process at a time (SIGKILL, as the OOM killer
would), at steps drawn from a fixed seed, until every rank index has been killed once. With
launcher=python the chart's in-pod supervisor restarts the group; with launcher=torchrun the
torchrun agents do. The run must complete with the exact step count, redo at most one
checkpoint interval per kill, and have every rank training again well inside the collective
timeout. A hung rank (alive, no progress) is killed by the heartbeat liveness probe, and the
group recovers the same way.
"""
from __future__ import annotations

import importlib.util
import random
import re

import pytest

from harness.render import CHART, render
from runtime import podsim

pytestmark = pytest.mark.runtime

WORLD = 4
EPOCHS, STEPS = 6, 5          # 30 steps in all
EVERY = 4                     # checkpoint interval (steps)
TIMEOUT = 60                  # faultTolerance.collectiveTimeoutSeconds (start-up under torchrun too)
SEED = 20261130

FAULT_LINE = re.compile(r"\[rank (\d+)/\d+\] fault (\d+): (kill|hang) at step (\d+) \(pid \d+, at ([\d.]+)\)")
FAILED_LINE = re.compile(r"\[rank (\d+)/\d+\] failed at ([\d.]+): ")
JOIN_LINE = re.compile(r"\[rank (\d+)/\d+\] joined the process group in [\d.]+s .* at ([\d.]+)\)")
RESUME_LINE = re.compile(r"\[rank (\d+)/\d+\] resumed from checkpoint step (\d+) ")


def fault_steps(seed: int, count: int, total: int) -> list[int]:
    """`count` distinct steps in 2..total-2, drawn from `seed`, in order."""
    return sorted(random.Random(seed).sample(range(2, total - 1), count))


def kill_plan(seed: int) -> tuple[str, list[tuple[int, int]]]:
    """Kill every rank once, in an order and at steps drawn from `seed`."""
    ranks = random.Random(seed + 1).sample(range(WORLD), WORLD)
    plan = list(zip(ranks, fault_steps(seed, WORLD, EPOCHS * STEPS)))
    return ",".join(f"kill:{r}@{s}" for r, s in plan), plan


def world(launcher: str, fault_plan: str, *extra: str) -> podsim.World:
    """The rendered 4-rank world, with the fault plan in the example's arguments."""
    args = ["--epochs", str(EPOCHS), "--steps", str(STEPS)] + (["--fault-plan", fault_plan] if fault_plan else [])
    sets = ["mode=distributed", f"worldSize={WORLD}", f"launcher={launcher}", "examples.enabled=true",
            "persistence.enabled=false", "faultTolerance.enabled=true", "faultTolerance.maxRestarts=6",
            f"faultTolerance.collectiveTimeoutSeconds={TIMEOUT}", "checkpoint.persistence.enabled=true",
            f"checkpoint.everySteps={EVERY}", *extra]
    return podsim.plan(list(render({"entrypoint": {"args": args}}, *sets)))


def reference_checksum() -> float:
    """The example's training done in one process: each step's gradient is the mean of the
    ranks' gradients on their (rank, step) samples, as DDP's all_reduce makes it."""
    spec = importlib.util.spec_from_file_location("ddp_train", CHART / "files" / "examples" / "ddp_train.py")
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    args = ex.parse_args(["--epochs", str(EPOCHS), "--steps", str(STEPS)])
    model, w_true = ex.build_model(args), ex.true_weights(args)
    opt = ex.torch.optim.SGD(model.parameters(), lr=args.lr)
    mse = ex.nn.MSELoss()
    for step in range(EPOCHS * STEPS):
        opt.zero_grad()
        batches = [ex.batch(args, rank, step, w_true) for rank in range(WORLD)]
        (sum(mse(model(x), y) for x, y in batches) / WORLD).backward()
        opt.step()
    return ex.torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().item()


def events(wr: podsim.WorldRun) -> dict[str, list]:
    """From every pod's log: faults (time, rank, step), failures (time, rank), joins (time,
    rank), and the checkpoint steps each resume started from."""
    found = {"faults": [], "failures": [], "joins": [], "resumes": []}
    for run in wr.runs:
        for line in run.output.splitlines():
            if m := FAULT_LINE.search(line):
                found["faults"].append((float(m.group(5)), int(m.group(1)), int(m.group(4))))
            elif m := FAILED_LINE.search(line):
                found["failures"].append((float(m.group(2)), int(m.group(1))))
            elif m := JOIN_LINE.search(line):
                found["joins"].append((float(m.group(2)), int(m.group(1))))
            elif m := RESUME_LINE.search(line):
                found["resumes"].append(int(m.group(2)))
    return {k: sorted(v) if k != "resumes" else v for k, v in found.items()}


def noticed_seconds(fault_time: float, rank: int, failures: list[tuple[float, int]]) -> float:
    """From a fault until every other rank's process gave up on the dead one."""
    first = {}
    for t, r in failures:
        if t > fault_time and r != rank and r not in first:
            first[r] = t
    assert len(first) == WORLD - 1, f"ranks that failed after the fault at {fault_time}: {first}"
    return max(first.values()) - fault_time


def recovery_seconds(fault_time: float, joins: list[tuple[float, int]]) -> float:
    """From a fault until every rank has joined a new process group."""
    after = {}
    for t, rank in joins:
        if t > fault_time and rank not in after:
            after[rank] = t
    assert sorted(after) == list(range(WORLD)), f"ranks that rejoined after {fault_time}: {after}"
    return max(after.values()) - fault_time


def check_completed(wr: podsim.WorldRun, faults_expected: int) -> list[dict]:
    logs = wr.logs()
    assert [r.rc for r in wr.runs] == [0] * WORLD, f"a pod did not finish:\n{logs}"
    results = wr.results()
    assert sorted(r["rank"] for r in results) == list(range(WORLD)), logs
    for r in results:
        assert r["ok"] is True and r["params_in_sync"] is True, r
        assert r["steps"] == EPOCHS * STEPS, r
        assert r["faults_fired"] == faults_expected, r
    assert len({r["checksum"] for r in results}) == 1, results
    return results


@pytest.mark.parametrize("launcher", ["python", "torchrun"])
def test_should_finish_the_run_when_each_rank_is_killed_in_turn(launcher, runtime_ready, world_dir,
                                                                record_property):
    plan_text, plan = kill_plan(SEED + (launcher == "torchrun"))
    # Restarts are in the pods (supervisor or torchrun agent): the simulator restarts nothing.
    wr = podsim.run(world(launcher, plan_text), deadline=600, root=world_dir)
    results = check_completed(wr, WORLD)
    found = events(wr)
    logs = wr.logs()
    assert [(rank, step) for _, rank, step in found["faults"]] == plan, logs
    # Each kill redoes the steps since the newest checkpoint before it: at most one interval.
    expected_resumes = [(step - 1) // EVERY * EVERY for _, step in plan]
    assert sorted(set(found["resumes"])) == sorted({r for r in expected_resumes if r}), (found["resumes"], plan)
    redone = [step - r for (_, step), r in zip(plan, expected_resumes)]
    assert all(0 < n <= EVERY for n in redone), redone
    # Nobody waits on the dead rank until the collective timeout: gloo sees the closed socket.
    noticed = [noticed_seconds(t, rank, found["failures"]) for t, rank, _ in found["faults"]]
    assert max(noticed) < TIMEOUT, noticed
    recoveries = [recovery_seconds(t, found["joins"]) for t, _, _ in found["faults"]]
    # The same parameters as the training done in one process without a failure (up to float32
    # rounding: the gradients are summed in another order; one step more or less moves them 1e-3).
    assert results[0]["checksum"] == pytest.approx(reference_checksum(), rel=1e-6), results[0]
    if launcher == "python":
        assert sum(r.output.count("pytorch-supervisor: attempt") for r in wr.runs) >= WORLD, logs
    record_property("faults", {"launcher": launcher, "plan": plan, "redone_steps": redone,
                               "noticed_s": [round(x, 1) for x in noticed],
                               "recovery_s": [round(x, 1) for x in recoveries], "wall_s": round(wr.wall, 1)})


def test_should_restart_a_hung_rank_and_the_group_with_it(runtime_ready, world_dir, record_property):
    """Rank 2 stops making progress without exiting; its heartbeat goes stale, the liveness
    probe kills it (and any rank stalled behind it), and the group resumes and finishes."""
    hung = world("python", "hang:2@9", "heartbeat.enabled=true", "heartbeat.timeoutSeconds=8",
                 "livenessProbe.initialDelaySeconds=0", "livenessProbe.periodSeconds=2",
                 "livenessProbe.failureThreshold=2", "livenessProbe.timeoutSeconds=2")
    wr = podsim.run(hung, deadline=600, root=world_dir, restarts=3, probes=True)
    check_completed(wr, 1)
    found = events(wr)
    killed = [e for e in wr.events if e["what"].startswith("liveness probe failed")]
    rank2 = next(r.pod.name for r in wr.runs if r.pod.index == 2)
    assert rank2 in {e["pod"] for e in killed}, wr.events
    (hung_at, _, _), = found["faults"]
    first_kill = min(e["t"] for e in killed)
    # Stale after 8 s, then two failed probes 2 s apart: killed within about 8 + 2 x 2 + 2 s.
    assert 8 <= first_kill - hung_at < 8 + 2 * 2 + 2 + 2, (hung_at, killed)
    recovery = recovery_seconds(hung_at, found["joins"])
    assert recovery < TIMEOUT + 8, recovery
    record_property("faults", {"launcher": "python", "plan": "hang:2@9", "liveness_kill_after_s":
                               round(first_kill - hung_at, 1), "recovery_s": [round(recovery, 1)],
                               "wall_s": round(wr.wall, 1)})
