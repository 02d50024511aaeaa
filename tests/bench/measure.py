"""Submit one workload of N ranks to the benchmark's control plane and measure it.

Shared by the full side-by-side benchmark (`make bench`, hack/bench/run.py) and the slice in
`make test` (tests/bench/test_slice.py); docs/bench.md explains the method. For one run:

1. a fresh namespace (no Pod Security label: PyTorchJob's and Trainer's pods are not
   `restricted`) and a pod watcher in it (podwatch.py, inside the network namespace, as is
   apimetrics.py, the reader of the API server's counters);
2. the API server's `apiserver_request_total` counters are read;
3. the clock starts and the case's submit command runs (`helm install`, `kubectl apply`);
4. the watcher reports when all N pods exist, are scheduled, Running and Ready;
5. the counters are read again once they have stopped moving (the controllers are done:
   status updates and events trail the last pod), and the difference is split into API
   requests and objects created;
Nothing is deleted between runs: deleting takes longer than measuring (a namespace takes the
namespace controller 5-15 s even when empty), and its requests would count in the next run.
A control plane serves one round of one case, its sizes in increasing order, so a run shares
it with fewer idle pods than its own N (they cost no requests), and the counters are quiet
before each run starts (step 5 of the run before).
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from cluster.controlplane import ControlPlane
from harness.proc import run as run_command
from harness.tools import BIN, ROOT

HACK = ROOT / "hack" / "bench"
HERE = Path(__file__).parent
PYTHON = ROOT / ".venv" / "bin" / "python"
# The chart's default image; the peers run the same one. No container ever starts.
IMAGE = "docker.io/pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime"
RELEASE = "bench"
# The chart under test: this checkout, or BENCH_CHART (a copy with a template change, to
# measure the change before making it).
CHART = Path(os.environ.get("BENCH_CHART", ROOT))


# --- the cases ---------------------------------------------------------------------------

def _container(name: str, indent: int) -> str:
    pad = " " * indent
    return f"{pad}- name: {name}\n{pad}  image: {IMAGE}\n{pad}  command: [sleep, infinity]\n"


def pytorchjob(n: int) -> str:
    """Kubeflow PyTorchJob: rank 0 is the Master, ranks 1..N-1 the Workers."""
    replica = ("    {role}:\n      replicas: {count}\n      restartPolicy: OnFailure\n"
               "      template:\n        spec:\n          containers:\n" + _container("pytorch", 10))
    specs = replica.format(role="Master", count=1)
    if n > 1:
        specs += replica.format(role="Worker", count=n - 1)
    return (f"apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata:\n  name: {RELEASE}\n"
            f"spec:\n  pytorchReplicaSpecs:\n{specs}")


def trainjob(n: int) -> str:
    """Kubeflow Trainer v2 TrainJob on the runtime hack/bench/up.sh installs."""
    return (f"apiVersion: trainer.kubeflow.org/v1alpha1\nkind: TrainJob\nmetadata:\n  name: {RELEASE}\n"
            f"spec:\n  runtimeRef:\n    apiGroup: trainer.kubeflow.org\n    kind: ClusterTrainingRuntime\n"
            f"    name: bench-torch\n  trainer:\n    numNodes: {n}\n")


def indexed_job(n: int) -> str:
    """The floor: one bare Indexed Job with N completions running at once, nothing else."""
    return (f"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {RELEASE}\nspec:\n"
            f"  completionMode: Indexed\n  completions: {n}\n  parallelism: {n}\n  backoffLimit: 0\n"
            f"  template:\n    spec:\n      restartPolicy: Never\n      containers:\n"
            + _container("pytorch", 6))


def bare_statefulset(n: int) -> str:
    """A StatefulSet of N pods started at once, nothing else: what its controller costs."""
    return (f"apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {RELEASE}\nspec:\n  replicas: {n}\n"
            f"  podManagementPolicy: Parallel\n  serviceName: {RELEASE}\n"
            f"  selector:\n    matchLabels: {{app: {RELEASE}}}\n  template:\n    metadata:\n"
            f"      labels: {{app: {RELEASE}}}\n    spec:\n      containers:\n" + _container("pytorch", 6))


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    peers: tuple[str, ...] = ()                      # controllers hack/bench/up.sh starts
    chart_sets: tuple[str, ...] | None = None       # this chart: `helm install --set ...`
    manifest: Callable[[int], str] | None = None     # a peer: `kubectl apply -f -`
    rank_label: str = ""                             # the pod label that holds the rank

    @property
    def is_chart(self) -> bool:
        return self.chart_sets is not None

    def submit(self, n: int) -> tuple[list[str], str | None]:
        """The command that submits N ranks, and its stdin."""
        if self.is_chart:
            sets = ["mode=distributed", f"worldSize={n}", *self.chart_sets]
            return [str(BIN / "helm"), "install", RELEASE, str(CHART),
                    *[a for s in sets for a in ("--set", s)]], None
        return [str(BIN / "kubectl"), "apply", "-f", "-"], self.manifest(n)


CASES: dict[str, Case] = {c.key: c for c in (
    Case("chart-sts-claims", "chart: StatefulSet, a claim per rank (default)", chart_sets=(),
         rank_label="apps.kubernetes.io/pod-index"),
    Case("chart-sts", "chart: StatefulSet, no claims", chart_sets=("persistence.enabled=false",),
         rank_label="apps.kubernetes.io/pod-index"),
    # A Job runs to completion, so the chart wants an entrypoint; an absolute path needs no files.
    Case("chart-job", "chart: Indexed Job (job.enabled)",
         chart_sets=("job.enabled=true", "persistence.enabled=false", "entrypoint.file=/opt/train.py"),
         rank_label="batch.kubernetes.io/job-completion-index"),
    Case("pytorchjob", "Kubeflow PyTorchJob (training-operator v1.8.1)", peers=("pytorchjob",), manifest=pytorchjob),
    Case("trainjob", "Kubeflow TrainJob (Trainer v2.0.0 + JobSet v0.8.2)", peers=("trainjob",), manifest=trainjob,
         rank_label="batch.kubernetes.io/job-completion-index"),
    Case("job", "bare Indexed Job (floor)", manifest=indexed_job, rank_label="batch.kubernetes.io/job-completion-index"),
    # Not in `make bench` by default (--cases sts): the StatefulSet controller's own floor.
    Case("sts", "bare StatefulSet, Parallel (floor)", manifest=lambda n: bare_statefulset(n),
         rank_label="apps.kubernetes.io/pod-index"),
)}
DEFAULT_CASES = ("chart-sts-claims", "chart-sts", "chart-job", "pytorchjob", "trainjob", "job")


# --- the control plane -------------------------------------------------------------------

@dataclass
class BenchCluster(ControlPlane):
    """A control plane started by hack/bench/up.sh: the embedded one, the benchmark's kwok
    and nodes, and the controllers of `peers`; with a reader of the API server's request
    counters (apimetrics.py) living in its network namespace."""
    peers: tuple[str, ...] = ()
    _metrics: subprocess.Popen | None = field(default=None, init=False, repr=False)

    def up(self, timeout: float = 600) -> "BenchCluster":
        start = time.monotonic()
        proc = run_command([HACK / "up.sh", self.name, *self.peers],
                           dict(os.environ, BENCH_NODES=str(self.nodes)), timeout=timeout)
        self.startup_seconds = time.monotonic() - start
        self.kubeconfig = Path(proc.stdout.strip().splitlines()[-1])
        self.netns = (self.state / "netns").read_text().strip()
        return self

    def down(self) -> None:
        if self._metrics is not None:
            self._metrics.kill()
            self._metrics.wait()
            self._metrics = None
        super().down()

    def in_netns(self, *argv: str, **kw) -> subprocess.Popen:
        """Start ARGV inside the control plane's network namespace, pipes on stdin/stdout."""
        return subprocess.Popen(["nsenter", f"--net=/run/netns/{self.netns}", "--", *argv], text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.env(), **kw)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far by each process of the control plane and of
        the peers, by the name of its pid file: work done, which unlike wall time hardly
        depends on what else runs on the machine."""
        out = {}
        tick = os.sysconf("SC_CLK_TCK")
        for f in sorted((self.state / "pids").glob("*.pid")):
            try:
                fields = Path(f"/proc/{f.read_text().strip()}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, ValueError):
                continue
            out[f.stem] = (int(fields[11]) + int(fields[12])) / tick
        return out

    def request_counters(self) -> Counter["Key"]:
        """apiserver_request_total now, by (verb, resource, subresource, code)."""
        if self._metrics is None or self._metrics.poll() is not None:
            self._metrics = self.in_netns(str(PYTHON), str(HERE / "apimetrics.py"), str(self.kubeconfig))
        self._metrics.stdin.write("\n")
        self._metrics.stdin.flush()
        line = self._metrics.stdout.readline()
        data = json.loads(line) if line else {"error": self._metrics.stderr.read()[-2000:]}
        if isinstance(data, dict):
            raise RuntimeError(f"reading /metrics failed: {data['error']}")
        return Counter({tuple(row[:4]): row[4] for row in data})


# --- API server metrics ------------------------------------------------------------------

# Not caused by the workload: node heartbeats and leases (kwok, leader election), watches
# (long-running: counted when they end, whoever opened them) and non-resource URLs
# (discovery, /metrics, health checks).
BACKGROUND_RESOURCES = {"nodes", "leases", ""}
LONG_RUNNING = {"WATCH", "WATCHLIST", "CONNECT"}
WRITES = {"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"}

Key = tuple[str, str, str, str]   # verb, resource, subresource, code


def counted(delta: Counter[Key]) -> Counter[Key]:
    return Counter({k: v for k, v in delta.items()
                    if v > 0 and k[1] not in BACKGROUND_RESOURCES and k[0] not in LONG_RUNNING})


def summarize(delta: Counter[Key]) -> dict:
    """Requests served and objects created, from the counters' difference over one run."""
    reqs = counted(delta)   # the watcher's list came before the first read, its watch is long-running
    by_resource: Counter[str] = Counter()
    by_verb: Counter[str] = Counter()
    objects: Counter[str] = Counter()
    for (verb, resource, sub, code), v in reqs.items():
        by_resource[f"{resource}/{sub}" if sub else resource] += v
        by_verb[f"{verb} {resource}/{sub}" if sub else f"{verb} {resource}"] += v
        if code == "201" and not sub:
            objects[resource] += v
    events = objects.pop("events", 0)
    return {
        "requests": sum(reqs.values()),
        "writes": sum(v for k, v in reqs.items() if k[0] in WRITES),
        "requests_by_resource": dict(by_resource.most_common()),
        # "VERB resource[/subresource]": what `hack/bench/run.py --profile` tabulates
        "requests_by_verb": dict(by_verb.most_common()),
        "objects": sum(objects.values()),
        "objects_by_resource": dict(objects.most_common()),
        "events": events,
    }


def settle(cp: BenchCluster, before: Counter[Key], interval: float = 0.5, quiet: int = 3,
           cap: float = 60.0) -> tuple[Counter[Key], float]:
    """Read the counters until the workload's requests stop moving: `quiet` reads in a row
    (1.5 s by default: the Job controller batches pod updates for 1 s) see no new request."""
    start = time.monotonic()
    last, still = None, 0
    while True:
        now = cp.request_counters()
        total = sum(counted(now - before).values())
        still = still + 1 if total == last else 0
        last = total
        if still >= quiet or time.monotonic() - start > cap:
            return now, time.monotonic() - start
        time.sleep(interval)


# --- one run -----------------------------------------------------------------------------

@dataclass
class Run:
    case: str
    n: int
    submit_s: float = 0.0            # the submit command itself (helm / kubectl)
    created_s: float | None = None   # all N pods exist
    scheduled_s: float | None = None
    running_s: float | None = None   # all N Running at once
    ready_s: float | None = None
    half_running_s: float | None = None
    most_starting: int = 0           # most pods created but not Running yet at one time
    settle_s: float = 0.0
    ranks: list[int] = field(default_factory=list)
    pod_bytes: int = 0               # a pod's JSON at the end (median over the pods)
    metrics: dict = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)   # per process, submit to settled
    client_cpu_s: float = 0.0        # helm / kubectl
    # per stage (created, scheduled, running, ready): seconds from submit until 10, 50, 90
    # and 100 % of the pods had reached it: where the time goes
    stages: dict[str, list[float]] = field(default_factory=dict)


def _ranks(pods: list[dict], case: Case) -> list[int]:
    if case.key == "pytorchjob":
        def rank(p: dict) -> int:
            lab = p["metadata"]["labels"]
            return int(lab["training.kubeflow.org/replica-index"]) + (lab["training.kubeflow.org/replica-type"] != "master")
        return sorted(map(rank, pods))
    return sorted(int(p["metadata"]["labels"][case.rank_label]) for p in pods)


def run_once(cp: BenchCluster, case: Case, n: int, ns: str, timeout: float = 600) -> Run:
    cp.create_namespace(ns, restricted=False)
    watcher = cp.in_netns(str(PYTHON), str(HERE / "podwatch.py"), str(cp.kubeconfig), ns, str(n), str(timeout))
    try:
        first = watcher.stdout.readline().strip()
        if first != "watching":
            raise RuntimeError(f"pod watcher did not start: {first} {watcher.stderr.read()[-2000:]}")
        before = cp.request_counters()
        cpu_before = cp.cpu_seconds()
        argv, stdin = case.submit(n)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        cp.run(*argv, "-n", ns, input=stdin, timeout=timeout)
        run = Run(case.key, n, submit_s=round(time.monotonic() - t0, 3))
        after_submit = resource.getrusage(resource.RUSAGE_CHILDREN)
        run.client_cpu_s = round(after_submit.ru_utime + after_submit.ru_stime - children.ru_utime - children.ru_stime, 3)
        out, err = watcher.communicate(timeout=timeout + 30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    result = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"error": err[-2000:]}
    if "error" in result or result.get("timed_out"):
        raise RuntimeError(f"{case.key} N={n}: not all ranks Running within {timeout}s: "
                           f"{ {k: (len(v) if isinstance(v, list) else v) for k, v in result.items()} }")

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - t0, 3)
    run.created_s = rel(result["created"][n - 1]) if len(result["created"]) >= n else None
    run.scheduled_s = rel(result["scheduled"][n - 1]) if len(result["scheduled"]) >= n else None
    run.running_s, run.ready_s = rel(result["all_running"]), rel(result["all_ready"])
    run.half_running_s = rel(result["running"][(n - 1) // 2])
    run.most_starting = result["most_starting"]
    run.stages = {stage: [rel(times[min(len(times) - 1, int(q * n + 0.5) - 1)]) for q in (0.1, 0.5, 0.9, 1.0)]
                  for stage, times in result.items() if stage in ("created", "scheduled", "running", "ready") and times}
    after, run.settle_s = settle(cp, before)
    run.settle_s = round(run.settle_s, 2)
    run.metrics = summarize(after - before)
    cpu_after = cp.cpu_seconds()
    run.cpu_s = {k: round(v - cpu_before.get(k, 0.0), 2) for k, v in cpu_after.items() if v - cpu_before.get(k, 0.0) > 0}
    pods = cp.get("pods", "-n", ns)["items"]
    run.ranks = _ranks(pods, case)
    # what every write and watch event of a pod carries: its JSON as stored, status included
    run.pod_bytes = int(statistics.median(len(json.dumps(p, separators=(",", ":"))) for p in pods))
    return run

