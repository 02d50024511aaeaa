"""The stack autopsy on the real node (docs/fault-tolerance.md, "When a rank hangs: the stack
autopsy"): what tests/runtime/test_autopsy.py proves with processes and a simulated kubelet,
proved with pods, the real kubelet's liveness probes and containerd's logs.

Rank 2 of 4 hangs (the example's --fault-plan hang:2@13: alive, silent, no more heartbeats)
while the other ranks wait for it in the step's all_reduce; heartbeat.enabled with a 10 s
timeout, the probe every 2 s, 3 failures, stackDumps on (the default), the checkpoint claim that
every rank mounts. Two releases in one namespace, each with its own claim (so their alarms and
reports never meet): `py` (launcher=python, under the supervisor) and `tr` (elastic torchrun,
whose agent dumps too). For each: every rank's Python stacks are in its container's log
(`kubectl logs --previous` once the kubelet has restarted it, else the current log), the hung
rank's at the line of the hang, the others' in the all_reduce they wait in; one culprit line,
word for word, names rank 2, its pod and its step, in every pod's log and in the kubelet's
Unhealthy Event; no dump comes before the heartbeat timeout, every one before the first kill and
at most heartbeat.timeoutSeconds + 30 s after the hang (the times, from containerd's time of
each log line, are recorded and printed in the summary).

A third release, `ok`, trains the same way with no fault plan beside them: every pod armed, at
least 10 liveness probes each while it trains (the kubelet's own count), 0 dumps, 0 culprit
lines, no failed liveness probe, no restart.
The long variant, 10 minutes of healthy training with each launcher (checkpoints every 200
steps), is marked `slow` and is not part of `make test`:

    .venv/bin/python -m pytest -m "node and slow" tests/node/test_hang_autopsy.py
"""
from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone

import pytest

from harness.tools import ROOT

from .conftest import Release
from .test_training import TIMINGS

pytestmark = pytest.mark.node

WORLD, HUNG, STEP = 4, 2, 13        # rank 2 hangs after step 13 (not an epoch's end: no loss all_reduce)
HEARTBEAT = 10                      # heartbeat.timeoutSeconds
PERIOD, FAILURES, PROBE_TIMEOUT = 2, 3, 5
SLACK = 30                          # the hang -> last dump bound: HEARTBEAT + SLACK
EVERY = 50                          # checkpoint.everySteps: the per-step flag all_reduce, no save before the hang
RELEASES = {"python": "py", "torchrun": "tr"}
PER_POD = {"python": 1, "torchrun": 2}  # armed Python processes per pod: the rank, and torchrun's agent
PREFIX = "pytorch-autopsy: "
NODE = "node0"

FAULT = re.compile(r"\[rank (\d+)/\d+\] fault \d+: hang at step (\d+) \(pid \d+, at ([\d.]+)\)")
HEADER = re.compile(r"pytorch-autopsy: (rank \d+|torchrun) \(pid (\d+), pod (\S+)\): heartbeat stale for (\d+) s, "
                    r"last step (\d+|\?); stacks of all its threads follow \(.*\)")
MAIN = re.compile(r"pytorch-autopsy: (rank \d+|torchrun): its main thread (.*)")
EPOCH = re.compile(r"\] epoch \d+/\d+ step (\d+) ")
STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z")


def source_line(text: str) -> int:
    """The line of files/examples/ddp_train.py (mounted at /app) that holds `text`, once."""
    found = [i for i, line in enumerate((ROOT / "files/examples/ddp_train.py").read_text().splitlines(), 1)
             if text in line]
    assert len(found) == 1, (text, found)
    return found[0]


HANG_LINE = source_line("time.sleep(3600)")                            # the fault's hang, in maybe_fire
FIRE_LINE = source_line("faults.maybe_fire(rank, steps, log)")         # train calls it after each step
FLAG_LINE = source_line("dist.all_reduce(flag, op=dist.ReduceOp.MAX)")  # where the other ranks wait


def sets(launcher: str, claim: str, args: str) -> list[str]:
    return ["mode=distributed", f"worldSize={WORLD}", f"launcher={launcher}", "examples.enabled=true",
            "persistence.enabled=false", "faultTolerance.enabled=true", "checkpoint.persistence.enabled=true",
            f"checkpoint.persistence.existingClaim={claim}", "heartbeat.enabled=true",
            f"heartbeat.timeoutSeconds={HEARTBEAT}", "livenessProbe.initialDelaySeconds=0",
            f"livenessProbe.periodSeconds={PERIOD}", f"livenessProbe.failureThreshold={FAILURES}",
            f"livenessProbe.timeoutSeconds={PROBE_TIMEOUT}", f"entrypoint.args={args}"]


def start(cluster, ns: str, images: list[str], name: str, launcher: str, args: str, every: int = EVERY) -> Release:
    """Install release `name` in `ns` with a claim of its own (RWO: one node mounts it for every
    rank, as in test_dying_rank), without waiting."""
    cluster.apply(json.dumps({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": f"{name}-ckpt", "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    r = Release(cluster, ns, name, [*images, *sets(launcher, f"{name}-ckpt", args), f"checkpoint.everySteps={every}"])
    r.install(wait=False)
    return r


def stamp(text: str) -> float:
    """The Unix time of an RFC 3339 time as the CRI writes it (nanoseconds, trailing zeros cut)."""
    m = STAMP.fullmatch(text)
    assert m, text
    whole = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return whole + float(f"0.{m.group(2) or 0}")


class Logs:
    """Every `pytorch` container's log of a release with containerd's time of each line, kept by
    container id: the running container's (`kubectl logs`) and, once the kubelet restarted it,
    the one before (`kubectl logs --previous`), which is where a killed container's lines are."""

    def __init__(self, cluster, r: Release):
        self.cluster, self.r = cluster, r
        self.text: dict[str, tuple[str, str]] = {}   # container id -> (pod, log)
        self.where: dict[str, str] = {}              # container id -> "current" or "previous", as last read

    def update(self) -> None:
        for pod in self.r.pods():
            name = pod["metadata"]["name"]
            for st in pod["status"].get("containerStatuses", []):
                if st["name"] != "pytorch":
                    continue
                previous = st.get("lastState", {}).get("terminated", {}).get("containerID")
                if previous:
                    self.read(previous, name, True)
                if st.get("containerID"):
                    self.read(st["containerID"], name, False)

    def read(self, cid: str, pod: str, previous: bool) -> None:
        args = ["logs", "-n", self.r.ns, pod, "-c", "pytorch", "--timestamps"] + (["--previous"] if previous else [])
        text = self.cluster.kubectl(*args, check=False).stdout
        # A container that restarted between the pod's status and this read gives a shorter log:
        # a container's log only grows, so the longest read is its own.
        if len(text) >= len(self.text.get(cid, ("", ""))[1]):
            self.text[cid] = (pod, text)
            self.where[cid] = "previous" if previous else "current"

    def lines(self) -> list[tuple[str, str, float, str]]:
        """(container id, pod, time, line) of every line read."""
        out = []
        for cid, (pod, text) in self.text.items():
            for raw in text.splitlines():
                at, _, line = raw.partition(" ")
                out.append((cid, pod, stamp(at), line))
        return out


def events(cluster, r: Release, reason: str) -> list[dict]:
    """The release's pods' Events of this reason."""
    items = cluster.get("events", "-n", r.ns, "--field-selector", f"reason={reason}")["items"]
    return [e for e in items if e["involvedObject"]["name"].startswith(f"{r.name}-pytorch-")]


def probe_counts(cluster, r: Release) -> dict[tuple[str, str], int]:
    """The kubelet's own count of the release's liveness probe runs, by (pod, result)."""
    text = cluster.kubectl("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/metrics/probes").stdout
    out: dict[tuple[str, str], int] = {}
    for m in re.finditer(r'^prober_probe_total\{([^}]*)\} (\S+)$', text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels.get("namespace") == r.ns and labels.get("probe_type") == "Liveness" \
                and labels.get("pod", "").startswith(f"{r.name}-pytorch-"):
            key = (labels["pod"], labels["result"])
            out[key] = out.get(key, 0) + int(float(m.group(2)))
    return out


def training(cluster, r: Release) -> bool:
    """Every rank has logged a finished epoch."""
    pods = r.pods()
    return len(pods) == WORLD and all(EPOCH.search(cluster.logs(r.ns, p["metadata"]["name"])) for p in pods)


# --------------------------------------------------------------------------- a hung rank

def autopsy_done(cluster, r: Release, logs: Logs, per_pod: int) -> bool:
    """The hang fired, every pod dumped and named the culprit, an Unhealthy Event carries it, and
    the kubelet killed a container for its liveness probe and restarted it (its log is read with
    --previous)."""
    logs.update()
    read = logs.lines()
    lines = [line for *_, line in read]
    culprit_pods = {pod for _, pod, _, line in read if line.startswith(PREFIX + "culprit: ")}
    return (any(FAULT.search(line) for line in lines)
            and sum(bool(MAIN.fullmatch(line)) for line in lines) >= WORLD * per_pod
            and len(culprit_pods) == WORLD
            and any("; culprit: " in e["message"] for e in events(cluster, r, "Unhealthy"))
            and bool(events(cluster, r, "Killing"))
            and "previous" in logs.where.values())


@pytest.fixture(scope="module")
def started(node_cluster, images):
    """Both launchers' hung releases and the healthy one in one namespace, started together; waits
    until both autopsies are complete and the healthy pods have run their probes."""
    namespaces = node_cluster.test_namespaces("hang_autopsy")
    ns = namespaces.make()
    t0 = time.monotonic()
    hang = f"--epochs 40 --steps 10 --step-seconds 0.2 --fault-plan hang:{HUNG}@{STEP}"
    hung = {launcher: start(node_cluster, ns, images, name, launcher, hang) for launcher, name in RELEASES.items()}
    ok = start(node_cluster, ns, images, "ok", "python", "--epochs 150 --steps 10 --step-seconds 0.2")
    logs = {launcher: Logs(node_cluster, r) for launcher, r in hung.items()}
    done: set[str] = set()
    healthy: dict = {}   # "at_training": the healthy pods' probe counts once every rank trains

    def ready() -> bool:
        for launcher, r in hung.items():
            if launcher not in done and autopsy_done(node_cluster, r, logs[launcher], PER_POD[launcher]):
                done.add(launcher)
        if "at_training" not in healthy:
            if not training(node_cluster, ok):
                return False
            healthy["at_training"] = probe_counts(node_cluster, ok)
        now = {k: n for k, n in probe_counts(node_cluster, ok).items() if k[1] == "successful"}
        return len(done) == len(hung) and len(now) == WORLD and \
            all(n - healthy["at_training"].get(k, 0) >= 10 for k, n in now.items())
    try:
        node_cluster.wait_for("both autopsies, and 10 liveness probes of each healthy pod while it trains", ready,
                              timeout=300, interval=2)
        for each in logs.values():
            each.update()
    except Exception:
        print(f"\n===== state of namespace {ns} at failure =====\n{node_cluster.dump(ns)}")
        namespaces.cleanup()
        raise
    yield {"ns": ns, "hung": hung, "logs": logs, "ok": ok, "ok_probes_at_training": healthy["at_training"],
           "wall": time.monotonic() - t0}
    namespaces.cleanup()


@pytest.fixture
def autopsies(started, node_cluster, request):
    """The module's releases (started); their namespace's state is printed when a test fails."""
    yield started
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(f"\n===== state of namespace {started['ns']} at failure =====\n{node_cluster.dump(started['ns'])}")


def liveness_failures(cluster, r: Release) -> list[str]:
    """The messages of the release's Unhealthy Events for its liveness probe."""
    return [e["message"] for e in events(cluster, r, "Unhealthy") if e["message"].startswith("Liveness probe failed")]


def kill_times(cluster, r: Release) -> list[float]:
    """When the kubelet killed a container of the release for its liveness probe (whole seconds)."""
    return [stamp(e["firstTimestamp"]) for e in events(cluster, r, "Killing")
            if e["message"] == "Container pytorch failed liveness probe, will be restarted"]


@pytest.mark.parametrize("launcher", list(RELEASES))
def test_should_dump_every_rank_and_name_the_hung_one(launcher, autopsies, node_cluster, record_property):
    r, logs = autopsies["hung"][launcher], autopsies["logs"][launcher]
    lines = logs.lines()
    pods = [f"{r.name}-pytorch-{i}" for i in range(WORLD)]
    assert sorted(p["metadata"]["name"] for p in r.pods()) == pods
    text = {pod: [line for _, p, _, line in lines if p == pod] for pod in pods}
    faults = [(pod, m) for _, pod, _, line in lines if (m := FAULT.search(line))]
    assert [(int(m.group(1)), int(m.group(2))) for _, m in faults] == [(HUNG, STEP)], faults
    hung_pod, hung_at = faults[0][0], float(faults[0][1].group(3))

    # Every Python process of every pod dumped once (under torchrun, the agent too), each in its
    # own pod's log, stale for at least the heartbeat timeout, at the step the rank had finished.
    headers = [(cid, pod, at, m) for cid, pod, at, line in lines if (m := HEADER.fullmatch(line))]
    for pod in pods:
        mine = [m for _, p, _, m in headers if p == pod]
        kinds = sorted(m.group(1).split()[0] for m in mine)   # "rank" for "rank R", and "torchrun"
        assert kinds == ["rank", "torchrun"][:PER_POD[launcher]], (pod, [m.group(0) for m in mine])
        for m in mine:
            assert m.group(3) == pod and int(m.group(4)) >= HEARTBEAT and m.group(5) == str(STEP), m.group(0)
    rank_pod = {int(m.group(1).split()[1]): pod for _, pod, _, m in headers if m.group(1).startswith("rank ")}
    assert sorted(rank_pod) == list(range(WORLD)) and sorted(rank_pod.values()) == pods, rank_pod
    if launcher == "python":
        assert rank_pod == dict(enumerate(pods)), rank_pod
    assert rank_pod[HUNG] == hung_pod

    # Rank 2's stacks show the hang; every other rank's, torch's all_reduce called from the step's flag all_reduce.
    def frame(rank: int, line: int, func: str) -> str:
        return f'{PREFIX}rank {rank} |   File "/app/ddp_train.py", line {line} in {func}'
    mains = {m.group(1): m.group(2) for *_, line in lines if (m := MAIN.fullmatch(line))}
    assert mains[f"rank {HUNG}"] == f"is outside any collective, in maybe_fire (ddp_train.py:{HANG_LINE})", mains
    assert frame(HUNG, HANG_LINE, "maybe_fire") in text[hung_pod] and frame(HUNG, FIRE_LINE, "train") in text[hung_pod]
    others = [rank for rank in range(WORLD) if rank != HUNG]
    for rank in others:
        assert mains[f"rank {rank}"] == f"waits in all_reduce, called from train (ddp_train.py:{FLAG_LINE})", mains
        mine = text[rank_pod[rank]]
        assert frame(rank, FLAG_LINE, "train") in mine, mine[-40:]
        assert any(re.fullmatch(rf'{PREFIX}rank {rank} \|   File "\S+/torch/distributed/distributed_c10d\.py", '
                                r"line \d+ in all_reduce", line) for line in mine), mine[-40:]

    # The culprit, word for word, once in every pod's log and in the kubelet's Unhealthy Event.
    culprit = (f"{PREFIX}culprit: rank {HUNG} (pod {hung_pod}) stopped first, at step {STEP}: it is outside any "
               f"collective, in maybe_fire (ddp_train.py:{HANG_LINE}); ranks {', '.join(map(str, others))} wait in "
               f"all_reduce, called from train (ddp_train.py:{FLAG_LINE})")
    named = [(pod, line) for _, pod, _, line in lines if line.startswith(PREFIX + "culprit: ")]
    assert sorted(named) == [(pod, culprit) for pod in pods], named
    unhealthy = events(node_cluster, r, "Unhealthy")
    carrying = [e for e in unhealthy if culprit[len(PREFIX):] in e["message"]]
    assert carrying and all(e["message"].startswith("Liveness probe failed: heartbeat stale for ") for e in carrying), \
        [e["message"] for e in unhealthy]

    # When: not before the heartbeat timeout (the probe's ages are whole seconds), within timeout +
    # 30 s of the hang, before the first kill.
    first_dump = min(at for _, _, at, _ in headers)
    last_dump = max(at for _, _, at, line in lines if MAIN.fullmatch(line))
    first_kill = min(kill_times(node_cluster, r))
    assert first_dump - hung_at >= HEARTBEAT - 2, (hung_at, first_dump)
    assert last_dump - hung_at <= HEARTBEAT + SLACK, (hung_at, last_dump)
    assert last_dump < first_kill + 1, (last_dump, first_kill)  # an Event's time is in whole seconds
    # Where they were read: the killed containers' logs through `kubectl logs --previous`.
    read_from = {pod: logs.where[cid] for cid, pod, _, _ in headers}
    assert "previous" in read_from.values(), read_from
    figures = {"launcher": launcher, "hang": f"{HUNG}@{STEP}", "hung_pod": hung_pod,
               "first_dump_after_hang_s": round(first_dump - hung_at, 1),
               "last_dump_after_hang_s": round(last_dump - hung_at, 1),
               "first_kill_after_hang_s": round(first_kill - hung_at, 1), "dumps_read_from": read_from,
               "fixture_wall_s": round(autopsies["wall"], 1)}
    TIMINGS[f"autopsy ({launcher}): hang -> last dump"] = last_dump - hung_at
    TIMINGS[f"autopsy ({launcher}): hang -> first kill (whole s)"] = first_kill - hung_at
    record_property("autopsy", figures)
    print(f"autopsy: {json.dumps(figures)}")


def check_healthy(cluster, r: Release, at_training: dict, per_pod: int, min_probes: int) -> dict:
    """A healthy release: armed, probed while it trains, yet silent. Returns its figures."""
    pods = r.pods()
    assert len(pods) == WORLD, [p["metadata"]["name"] for p in pods]
    counts = probe_counts(cluster, r)
    figures: dict = {"liveness_probes_while_training": {}, "last_step": {}}
    for pod in pods:
        name = pod["metadata"]["name"]
        # Never restarted: the current log is the whole of it.
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 0, pod["status"]["containerStatuses"]
        log = cluster.logs(r.ns, name)
        steps = [int(s) for s in EPOCH.findall(log)]
        assert steps, log[-2000:]
        assert "pytorch-autopsy" not in log, [line for line in log.splitlines() if "pytorch-autopsy" in line][:20]
        # Armed: every Python process of the launch registered its dump.
        out = cluster.exec(r.ns, name, "sh", "-c",
                           "ls -A /checkpoints; echo ---; head -qn1 /tmp/pytorch-autopsy/stacks/*").stdout
        listing, _, armed = out.partition("---\n")
        assert "ddp_train" in listing.split() and ".pytorch-autopsy" not in listing.split(), listing
        armed_lines = armed.splitlines()
        assert len(armed_lines) == per_pod and all(h.startswith("# pytorch-stacks pid=") for h in armed_lines), armed
        probes = counts.get((name, "successful"), 0) - at_training.get((name, "successful"), 0)
        assert probes >= min_probes and counts.get((name, "failed"), 0) == 0, (name, counts)
        figures["liveness_probes_while_training"][name] = probes
        figures["last_step"][name] = steps[-1]
    # No failed liveness probe (a readiness probe fails while torch starts, before READY_FILE), no kill.
    assert liveness_failures(cluster, r) == [] and events(cluster, r, "Killing") == []
    return figures


def test_should_dump_nothing_in_a_healthy_run(autopsies, node_cluster, record_property):
    figures = check_healthy(node_cluster, autopsies["ok"], autopsies["ok_probes_at_training"], per_pod=1, min_probes=10)
    record_property("autopsy", {"launcher": "python", "healthy": True, "dumps": 0, "culprit_lines": 0, **figures})


LONG = 600   # seconds of healthy training in the slow variant


@pytest.mark.slow
def test_should_dump_nothing_in_ten_minutes_of_healthy_training(namespace, images, node_cluster, record_property):
    """Both launchers, side by side, 10 minutes each of training with a checkpoint every 200
    steps, the probes every 2 s: not one dump."""
    ns = namespace()
    args = "--epochs 400 --steps 10 --step-seconds 0.2"   # 4000 steps: more than 800 s
    runs = {launcher: start(node_cluster, ns, images, name, launcher, args, every=200)
            for launcher, name in RELEASES.items()}
    at_training = {}
    for launcher, r in runs.items():
        node_cluster.wait_for(f"{r.name}: every rank training", lambda: training(node_cluster, r),
                              timeout=300, interval=2)
        at_training[launcher] = probe_counts(node_cluster, r)
    began = time.monotonic()
    while time.monotonic() - began < LONG:
        for r in runs.values():   # fail early
            assert liveness_failures(node_cluster, r) == []
        time.sleep(30)
    for launcher, r in runs.items():
        figures = check_healthy(node_cluster, r, at_training[launcher], per_pod=PER_POD[launcher],
                                min_probes=LONG // PERIOD * 9 // 10)
        figures.update(launcher=launcher, healthy_seconds=round(time.monotonic() - began), dumps=0, culprit_lines=0)
        record_property(f"autopsy_{launcher}", figures)
        print(f"healthy: {json.dumps(figures)}")
