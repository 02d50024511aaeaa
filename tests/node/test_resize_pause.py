"""Resize in place and pause/resume on the real node (docs/fault-tolerance.md, "Resize in place"
and "Pause and resume").

Real pods run the chart's example script (files/examples/ddp_train.py) with a checkpoint every
10 steps on one claim that every rank mounts, as the fault tests do (test_dying_rank.py).

StatefulSet, launcher=torchrun, faultTolerance.minNodes=2 and maxNodes=4 (elastic rendezvous),
and `--rdzv-conf=last_call_timeout=5` in torchrun.extraArgs (torchrun's default, 30 s, holds every
round below maxNodes open that long: docs/fault-tolerance.md, "Resize in place"): 2 ranks train;
`helm upgrade --reuse-values --set worldSize=3` adds pod 2 and leaves pods 0 and 1 alone (the
same uids and restart counts); the agents meet again and the group trains at world size 3 from
the newest checkpoint; `worldSize=2` removes pod 2 the same way. Then `paused=true` stops every
rank (SIGTERM, a checkpoint at the next step), keeps the release, the StatefulSet and the
claims, and `paused=false` resumes from that checkpoint. The run ends with the parameters of one
process that trained every step with the world sizes the groups had (each step's gradient the
mean of the ranks' on their (rank, step) samples), as tests/runtime/test_fault_tolerance.py
checks a run that never failed.

Indexed Job, launcher=python under the chart's supervisor: `paused=true` suspends the Job (every
rank saves and stops), `paused=false` resumes from the pause checkpoint and the Job completes.

The logs are followed (`kubectl logs -f --timestamps`) from the start, so the lines of the pods
that a pause or a shrink deletes are kept, with the kubelet's time of each line.
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from harness.tools import BIN, ROOT

from .test_training import TIMINGS, ready_since

pytestmark = pytest.mark.node

STEPS, EVERY, STEP_SECONDS = 5, 10, 0.2      # a loss line every 5 steps, a checkpoint every 10
STS_EPOCHS, JOB_EPOCHS = 40, 24             # 200 and 120 steps
LAST_CALL = 5                               # torchrun's rendezvous last call (default 30 s)
SELECTOR = "app.kubernetes.io/instance=t"
# The parameters' checksum against one process: float32 sums in another order drift by about
# 2e-6 (relative) over 200 steps here; moving one step of the schedule moves it 8e-5 or more.
TOLERANCE = 2e-5
RESULT = "DDP_RESULT "
RANKED = re.compile(r"\[rank (\d+)/(\d+)\] (.*)$")
JOINED = re.compile(r"joined the process group in ")
RESUMED = re.compile(r"resumed from checkpoint step (\d+) ")
STEP = re.compile(r"epoch \d+/\d+ step (\d+) ")
SAVED = re.compile(r"checkpoint step (\d+) saved in ")
STOPPED = re.compile(r"stopped at step (\d+) after a SIGTERM")
SIGNALLED = "got signal 15: saving a checkpoint at the next step, then exiting"
MEMBERS = re.compile(r"members: (.*)$")


def stamp(ts: str) -> float:
    """The kubelet's RFC 3339 time with nanoseconds, as Unix seconds."""
    head, _, frac = ts.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + "+00:00").timestamp() + float("0." + (frac or "0"))


@dataclass
class Line:
    t: float
    pod: str
    rank: int
    world: int
    text: str


class Follower:
    """`kubectl logs -f --timestamps` of every container of the release, each into a file: the
    log of a pod that a pause or a shrink deletes stays readable after the pod is gone."""

    def __init__(self, cluster, r, folder: Path):
        self.cluster, self.r, self.folder = cluster, r, folder
        self.streams: dict[tuple[str, str, int], tuple[subprocess.Popen, Path]] = {}

    def poll(self) -> None:
        for pod in self.cluster.pods(self.r.ns, SELECTOR):
            status = (pod.get("status", {}).get("containerStatuses") or [{}])[0]
            if "running" not in status.get("state", {}):
                continue
            name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
            key = (name, uid, status.get("restartCount", 0))
            if key in self.streams:
                continue
            path = self.folder / f"{name}-{uid[:8]}-{key[2]}.log"
            with open(path, "wb") as out:
                proc = subprocess.Popen(
                    ["nsenter", f"--net=/run/netns/{self.cluster.netns}", "--", str(BIN / "kubectl"), "logs", "-f",
                     "--timestamps", "-n", self.r.ns, name, "-c", "pytorch"],
                    env=self.cluster.env(), stdout=out, stderr=subprocess.STDOUT)
            self.streams[key] = (proc, path)

    def lines(self) -> list[Line]:
        out = []
        for (name, _, _), (_, path) in self.streams.items():
            for raw in path.read_text(errors="replace").splitlines():
                ts, _, text = raw.partition(" ")
                if (m := RANKED.search(text)) and ts[:1].isdigit():
                    out.append(Line(stamp(ts), name, int(m.group(1)), int(m.group(2)), m.group(3)))
        return sorted(out, key=lambda x: x.t)

    def close(self) -> None:
        for proc, _ in self.streams.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)


@dataclass
class Group:
    """One process group, from its rank 0's join line to the next one."""
    world: int
    joined: float
    start: int = 0                                    # the checkpoint step it resumed from
    last: int = 0                                     # the newest step its rank 0 logged
    trained_at: float | None = None                   # its rank 0's first loss line
    saved: list[int] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # pods, by rank
    signalled: set[int] = field(default_factory=set)
    stopped: dict[int, int] = field(default_factory=dict)
    results: list[dict] = field(default_factory=list)


def groups(lines: list[Line]) -> list[Group]:
    found: list[Group] = []
    for x in lines:
        if x.rank == 0 and JOINED.match(x.text):
            found.append(Group(x.world, x.t))
            continue
        if not found:
            continue
        g = found[-1]
        if x.text.startswith(RESULT):
            g.results.append(json.loads(x.text[len(RESULT):]))
        elif x.text == SIGNALLED:
            g.signalled.add(x.rank)
        elif m := STOPPED.match(x.text):
            g.stopped[x.rank] = int(m.group(1))
        if x.rank != 0:
            continue
        if m := RESUMED.match(x.text):
            g.start = g.last = int(m.group(1))
        elif m := MEMBERS.match(x.text):
            g.members = [item.split("@", 1)[1] for item in m.group(1).split(", ")]
        elif m := STEP.match(x.text):
            g.last = max(g.last, int(m.group(1)))
            g.trained_at = g.trained_at or x.t
        elif m := SAVED.match(x.text):
            g.saved.append(int(m.group(1)))
            g.last = max(g.last, int(m.group(1)))
        elif m := STOPPED.match(x.text):
            g.last = max(g.last, int(m.group(1)))
    return found


def wait_group(cluster, fol: Follower, what: str, ok, timeout: float = 240) -> list[Group]:
    """Poll the logs until ok(groups) holds; return the groups."""
    def look():
        fol.poll()
        found = groups(fol.lines())
        return found if found and ok(found) else None
    return cluster.wait_for(what, look, timeout=timeout, interval=1)


def reference_checksum(schedule: list[tuple[int, int]], total: int) -> float:
    """The example's training in one process: step s takes the mean of the gradients of ranks
    0..W-1 on their (rank, s) samples, W the world size of the last group (in time) that started
    at or before s. schedule: (start step, world size) of each group, in time order."""
    spec = importlib.util.spec_from_file_location("ddp_train", ROOT / "files" / "examples" / "ddp_train.py")
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    world = [0] * total
    for start, w in schedule:
        world[start:] = [w] * (total - start)
    args = ex.parse_args(["--epochs", str(total // STEPS), "--steps", str(STEPS)])
    model, w_true = ex.build_model(args), ex.true_weights(args)
    opt = ex.torch.optim.SGD(model.parameters(), lr=args.lr)
    mse = ex.nn.MSELoss()
    for step in range(total):
        opt.zero_grad()
        batches = [ex.batch(args, rank, step, w_true) for rank in range(world[step])]
        (sum(mse(model(x), y) for x, y in batches) / world[step]).backward()
        opt.step()
    return ex.torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().item()


def checkpoint_claim(cluster, ns: str) -> None:
    # One node: a ReadWriteOnce claim is mountable by every rank (the node's local volumes are RWO).
    cluster.apply(json.dumps({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "ckpt", "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))


def upgrade(cluster, r, *sets: str) -> float:
    """helm upgrade --reuse-values --set SETS; return when it started."""
    t0 = time.time()
    args = ["upgrade", r.name, str(ROOT), "-n", r.ns, "--reuse-values"]
    for s in sets:
        args += ["--set", s]
    cluster.helm(*args, timeout=300)
    return t0


def pod_state(r) -> dict[str, tuple[str, int]]:
    """Each pod's uid and restart count."""
    return {p["metadata"]["name"]: (p["metadata"]["uid"], p["status"]["containerStatuses"][0]["restartCount"])
            for p in r.pods()}


def claims(cluster, ns: str) -> dict[str, str]:
    return {c["metadata"]["name"]: c["metadata"]["uid"] for c in cluster.get("pvc", "-n", ns)["items"]}


def no_pods(cluster, ns: str) -> bool:
    return not [p for p in cluster.pods(ns, SELECTOR) if p["metadata"]["labels"].get("app.kubernetes.io/component") != "test"]


def check_paused(g: Group, world: int) -> int:
    """Every rank of the stopped group got SIGTERM and stopped at the same step, after the
    checkpoint of that step; return the step."""
    assert g.signalled == set(range(world)), g
    assert sorted(g.stopped) == list(range(world)) and len(set(g.stopped.values())) == 1, g
    step = g.stopped[0]
    assert g.saved and g.saved[-1] == step, g
    return step


def check_results(g: Group, world: int, total: int) -> float:
    assert sorted(x["rank"] for x in g.results) == list(range(world)), g.results
    for x in g.results:
        assert x["ok"] is True and x["world_size"] == world and x["steps"] == total, x
        assert x["params_in_sync"] is True and x["resumed_from"] == g.start, x
    assert len({x["checksum"] for x in g.results}) == 1, g.results
    return g.results[0]["checksum"]


def test_should_resize_in_place_then_pause_and_resume_a_statefulset(release, node_cluster, tmp_path,
                                                                     record_property):
    total = STS_EPOCHS * STEPS
    r = release("mode=distributed", "worldSize=2", "launcher=torchrun", "examples.enabled=true",
                "faultTolerance.enabled=true", "faultTolerance.minNodes=2", "faultTolerance.maxNodes=4",
                "faultTolerance.maxRestarts=6", "checkpoint.persistence.enabled=true",
                "checkpoint.persistence.existingClaim=ckpt", f"checkpoint.everySteps={EVERY}", "persistence.size=1Gi",
                f"entrypoint.args=--epochs {STS_EPOCHS} --steps {STEPS} --step-seconds {STEP_SECONDS}")
    checkpoint_claim(node_cluster, r.ns)
    fol = Follower(node_cluster, r, tmp_path)
    figures: dict[str, object] = {}
    wall = time.time()
    try:
        r.install(wait=False, values={"torchrun.extraArgs": [f"--rdzv-conf=last_call_timeout={LAST_CALL}"]})
        wait_group(node_cluster, fol, "2 ranks training past their first checkpoint",
                   lambda gs: gs[-1].world == 2 and gs[-1].last >= EVERY + STEPS)
        before = pod_state(r)
        assert sorted(before) == ["t-pytorch-0", "t-pytorch-1"], before

        # -- grow: worldSize=3 adds pod 2; pods 0 and 1 keep running ----------------------------
        t_grow = upgrade(node_cluster, r, "worldSize=3")
        gs = wait_group(node_cluster, fol, "the group training at world size 3",
                        lambda gs: gs[-1].world == 3 and gs[-1].trained_at, timeout=300)
        grown = pod_state(r)
        assert sorted(grown) == ["t-pytorch-0", "t-pytorch-1", "t-pytorch-2"], grown
        assert {k: grown[k] for k in before} == before, (before, grown)
        g2, g3 = gs[-2], gs[-1]
        assert (g2.world, g3.world) == (2, 3), gs
        assert g3.members == ["t-pytorch-0", "t-pytorch-1", "t-pytorch-2"], g3
        # The newest checkpoint: the one the agents' SIGTERM to their workers asked for.
        assert g3.start == g2.saved[-1] and 0 <= g2.last - g3.start <= EVERY, (g2, g3)
        [new] = [p for p in r.pods() if p["metadata"]["name"] == "t-pytorch-2"]
        ready = ready_since(new)
        assert ready is not None, new["status"]
        assert g3.trained_at - ready < 30, (g3.trained_at, ready)
        figures["grow"] = {"upgrade_to_training_s": round(g3.trained_at - t_grow, 1),
                           "new_pod_ready_to_training_s": round(g3.trained_at - ready, 1),
                           "last_step_at_2": g2.last, "resumed_at_3": g3.start, "redone": g2.last - g3.start,
                           "pods_before": before, "pods_after": grown}

        # -- shrink: worldSize=2 removes pod 2; pods 0 and 1 keep running ------------------------
        wait_group(node_cluster, fol, "a checkpoint at world size 3",
                   lambda gs: gs[-1].world == 3 and any(s > g3.start for s in gs[-1].saved))
        t_shrink = upgrade(node_cluster, r, "worldSize=2")
        gs = wait_group(node_cluster, fol, "the group training at world size 2 again",
                        lambda gs: gs[-1].world == 2 and gs[-1].joined > t_shrink and gs[-1].trained_at, timeout=300)
        node_cluster.wait_for("pod 2 gone", lambda: "t-pytorch-2" not in [p["metadata"]["name"] for p in
                                                                          node_cluster.pods(r.ns, SELECTOR)], 120)
        shrunk = pod_state(r)
        assert shrunk == before, (before, shrunk)
        g3, g4 = gs[-2], gs[-1]
        assert g3.world == 3 and g4.members == ["t-pytorch-0", "t-pytorch-1"], gs
        # Pod 2's SIGTERM reached its worker, and every rank saved at the next step.
        assert 2 in g3.signalled and g4.start == g3.saved[-1] == g3.last, (g3, g4)
        figures["shrink"] = {"upgrade_to_training_s": round(g4.trained_at - t_shrink, 1),
                             "last_step_at_3": g3.last, "resumed_at_2": g4.start, "redone": g3.last - g4.start,
                             "pods_after": shrunk}

        # -- pause: every rank saves and stops; the release, the StatefulSet and the claims stay -
        wait_group(node_cluster, fol, "training on at world size 2", lambda gs: gs[-1].last >= g4.start + STEPS)
        sts = node_cluster.get("statefulset", "t-pytorch", "-n", r.ns)
        kept = claims(node_cluster, r.ns)
        assert sorted(kept) == ["ckpt", "data-t-pytorch-0", "data-t-pytorch-1", "data-t-pytorch-2"], kept
        t_pause = upgrade(node_cluster, r, "paused=true")
        node_cluster.wait_for("every rank gone", lambda: no_pods(node_cluster, r.ns), 120, interval=0.5)
        t_gone = time.time()
        for proc, _ in fol.streams.values():
            proc.wait(30)
        g4 = groups(fol.lines())[-1]
        paused_at = check_paused(g4, 2)
        paused = node_cluster.get("statefulset", "t-pytorch", "-n", r.ns)
        assert paused["metadata"]["uid"] == sts["metadata"]["uid"] and paused["spec"]["replicas"] == 0
        assert paused["spec"]["template"] == sts["spec"]["template"]
        assert claims(node_cluster, r.ns) == kept
        status = json.loads(node_cluster.helm("status", "t", "-n", r.ns, "-o", "json").stdout)
        assert (status["version"], status["info"]["status"]) == (4, "deployed"), status["info"]

        # -- resume from the pause checkpoint ------------------------------------------------
        t_resume = upgrade(node_cluster, r, "paused=false")
        gs = wait_group(node_cluster, fol, "the group training after the resume",
                        lambda gs: gs[-1].joined > t_resume and gs[-1].trained_at, timeout=300)
        g5 = gs[-1]
        assert (g5.world, g5.start) == (2, paused_at), g5
        figures["pause"] = {"upgrade_to_no_pod_s": round(t_gone - t_pause, 1), "stopped_at": paused_at}
        figures["resume"] = {"upgrade_to_training_s": round(g5.trained_at - t_resume, 1), "resumed_at": g5.start,
                             "redone": paused_at - g5.start}

        # -- the end: the parameters of one process that trained the same schedule -----------
        gs = wait_group(node_cluster, fol, "every rank's result", lambda gs: len(gs[-1].results) >= 2, timeout=300)
        done = next(i for i, g in enumerate(gs) if g.results)
        gs = gs[:done + 1]
        checksum = check_results(gs[-1], 2, total)
        schedule = [(g.start, g.world) for g in gs]
        assert [w for _, w in schedule] == [2, 3, 2, 2], schedule
        assert checksum == pytest.approx(reference_checksum(schedule, total), rel=TOLERANCE), (checksum, schedule)
        # The check tells schedules apart: 2 ranks throughout, or the group of 3 starting one step
        # later, would end elsewhere.
        assert checksum != pytest.approx(reference_checksum([(0, 2)], total), rel=TOLERANCE)
        later = [(s + (w == 3), w) for s, w in schedule]
        assert checksum != pytest.approx(reference_checksum(later, total), rel=TOLERANCE)
        figures.update(schedule=schedule, checksum=checksum, wall_s=round(time.time() - wall, 1))
    finally:
        fol.close()
        record_property("resize_pause_statefulset", figures)
        print(f"\nresize and pause, StatefulSet (torchrun elastic): {json.dumps(figures)}")
    TIMINGS["resize 2->3: new pod Ready -> training at 3"] = figures["grow"]["new_pod_ready_to_training_s"]
    TIMINGS["resize 2->3: helm upgrade -> training at 3"] = figures["grow"]["upgrade_to_training_s"]
    TIMINGS["resize 3->2: helm upgrade -> training at 2"] = figures["shrink"]["upgrade_to_training_s"]
    TIMINGS["pause (StatefulSet): helm upgrade -> no pod"] = figures["pause"]["upgrade_to_no_pod_s"]
    TIMINGS["resume (StatefulSet): helm upgrade -> training"] = figures["resume"]["upgrade_to_training_s"]


def test_should_pause_and_resume_an_indexed_job_from_its_pause_checkpoint(release, node_cluster, tmp_path,
                                                                          record_property):
    total = JOB_EPOCHS * STEPS
    r = release("mode=distributed", "worldSize=2", "job.enabled=true", "examples.enabled=true",
                "persistence.enabled=false", "faultTolerance.enabled=true", "checkpoint.persistence.enabled=true",
                "checkpoint.persistence.existingClaim=ckpt", f"checkpoint.everySteps={EVERY}",
                f"entrypoint.args=--epochs {JOB_EPOCHS} --steps {STEPS} --step-seconds {STEP_SECONDS}")
    checkpoint_claim(node_cluster, r.ns)
    fol = Follower(node_cluster, r, tmp_path)
    figures: dict[str, object] = {}
    wall = time.time()
    try:
        r.install(wait=False)
        wait_group(node_cluster, fol, "2 ranks training past their first checkpoint",
                   lambda gs: gs[-1].last >= EVERY + STEPS)
        job = node_cluster.get("job", "t-pytorch", "-n", r.ns)
        kept = claims(node_cluster, r.ns)
        t_pause = upgrade(node_cluster, r, "paused=true")
        node_cluster.wait_for("every rank gone", lambda: no_pods(node_cluster, r.ns), 120, interval=0.5)
        t_gone = time.time()
        for proc, _ in fol.streams.values():
            proc.wait(30)
        paused_at = check_paused(groups(fol.lines())[-1], 2)
        suspended = node_cluster.get("job", "t-pytorch", "-n", r.ns)
        assert suspended["metadata"]["uid"] == job["metadata"]["uid"] and suspended["spec"]["suspend"] is True
        assert any(c["type"] == "Suspended" and c["status"] == "True" for c in suspended["status"]["conditions"])
        assert claims(node_cluster, r.ns) == kept == {"ckpt": kept["ckpt"]}

        t_resume = upgrade(node_cluster, r, "paused=false")
        gs = wait_group(node_cluster, fol, "the group training after the resume",
                        lambda gs: gs[-1].joined > t_resume and gs[-1].trained_at, timeout=300)
        assert (gs[-1].world, gs[-1].start) == (2, paused_at), gs[-1]
        resumed = gs[-1]

        def complete():
            fol.poll()
            j = node_cluster.get("job", "t-pytorch", "-n", r.ns)
            return any(c["type"] == "Complete" and c["status"] == "True"
                       for c in j.get("status", {}).get("conditions", [])) and j
        finished = node_cluster.wait_for("the Job to complete", complete, timeout=300, interval=1)
        # The pods the suspension deleted are not failures of the Job.
        assert finished["status"].get("failed", 0) == 0, finished["status"]
        assert finished["metadata"]["uid"] == job["metadata"]["uid"]
        gs = wait_group(node_cluster, fol, "every rank's result", lambda gs: len(gs[-1].results) >= 2, timeout=60)
        assert len(gs) == 2 and gs[-1].joined == resumed.joined, gs
        checksum = check_results(gs[-1], 2, total)
        assert checksum == pytest.approx(reference_checksum([(0, 2)], total), rel=TOLERANCE), checksum
        figures = {"upgrade_to_no_pod_s": round(t_gone - t_pause, 1), "stopped_at": paused_at,
                   "upgrade_to_training_s": round(resumed.trained_at - t_resume, 1), "resumed_at": resumed.start,
                   "redone": paused_at - resumed.start, "checksum": checksum, "wall_s": round(time.time() - wall, 1)}
    finally:
        fol.close()
        record_property("pause_indexed_job", figures)
        print(f"\npause, Indexed Job (python supervisor): {json.dumps(figures)}")
    TIMINGS["pause (Indexed Job): helm upgrade -> no pod"] = figures["upgrade_to_no_pod_s"]
    TIMINGS["resume (Indexed Job): helm upgrade -> training"] = figures["upgrade_to_training_s"]
