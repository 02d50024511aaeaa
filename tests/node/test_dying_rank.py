"""A dying rank on the real node (docs/fault-tolerance.md, "When a rank fails").

An Indexed Job of 3 ranks trains with faultTolerance.enabled (the chart's in-pod supervisor),
a checkpoint every 10 steps on one claim that every rank mounts, and a collective timeout of
60 s. Mid-training a rank's python process is killed with SIGKILL from the host (as the
kernel's OOM killer would), a rank's pod is deleted (as a drain or a preemption would), or a
rank's process is stopped with SIGSTOP (a hang: alive, no progress) under heartbeat probes.
The group must recover on its own, the Job must complete with the exact step count, and the
recovery time (from the kill until every rank has joined a new process group) is recorded.
"""
from __future__ import annotations

import glob
import json
import os
import re
import signal
import time

import pytest

from .test_training import TIMINGS

pytestmark = pytest.mark.node

WORLD, EPOCHS, STEPS, EVERY = 3, 30, 10, 10     # 300 steps, a checkpoint every 10
TIMEOUT = 60
JOINED = re.compile(r"\[rank (\d+)/\d+\] joined the process group in [\d.]+s .* at ([\d.]+)\)")
RESUMED = re.compile(r"\[rank \d+/\d+\] resumed from checkpoint step (\d+) ")
STEP = re.compile(r"\[rank \d+/\d+\] epoch (\d+)/\d+ step (\d+) ")
RESULT = "DDP_RESULT "


def container_pids(cgroup_root: str, container_id: str) -> list[int]:
    """Host pids of a container, from its cgroup (cgroupfs driver, v1 pids hierarchy)."""
    paths = glob.glob(f"/sys/fs/cgroup/pids/{cgroup_root}/**/{container_id}/cgroup.procs", recursive=True)
    assert len(paths) == 1, paths
    return [int(p) for p in open(paths[0]).read().split()]


def training_pid(node_cluster, pod: dict) -> int:
    """The host pid of the pod's training process (not the supervisor shell around it)."""
    cid = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    found = [pid for pid in container_pids(node_cluster.netns, cid)
             if "ddp_train.py" in open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
             and open(f"/proc/{pid}/comm").read().strip().startswith("python")]
    assert len(found) == 1, found
    return found[0]


def start(release, node_cluster, *extra: str, claim_ns_name: str = "ckpt"):
    """Install the 3-rank Job with its checkpoint claim; wait until every rank is training."""
    r = release(*extra, "mode=distributed", f"worldSize={WORLD}", "job.enabled=true", "examples.enabled=true",
                "persistence.enabled=false", "faultTolerance.enabled=true", "faultTolerance.maxRestarts=8",
                f"faultTolerance.collectiveTimeoutSeconds={TIMEOUT}", "checkpoint.persistence.enabled=true",
                f"checkpoint.persistence.existingClaim={claim_ns_name}", f"checkpoint.everySteps={EVERY}",
                f"entrypoint.args=--epochs {EPOCHS} --steps {STEPS} --step-seconds 0.1")
    # One node: a ReadWriteOnce claim is mountable by every rank (the chart asks for
    # ReadWriteMany when it makes the claim itself; the node's local volumes are RWO).
    node_cluster.apply(json.dumps({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim_ns_name, "namespace": r.ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    r.install(wait=False)
    node_cluster.wait_for("every rank training", lambda: len(steps_by_pod(node_cluster, r)) == WORLD
                          and min(steps_by_pod(node_cluster, r).values()) >= 2 * EVERY, timeout=300, interval=2)
    return r


def rank_pod(r, index: int) -> dict:
    """The running pod of completion index `index`."""
    [pod] = [p for p in r.pods() if p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == str(index)]
    return pod


def signal_training(node_cluster, r, index: int, sig: int) -> tuple[dict, int, float]:
    """Send `sig` to rank `index`'s training process from the host; return its pod, the newest
    step the ranks had logged, and when the signal went."""
    pod = rank_pod(r, index)
    pid = training_pid(node_cluster, pod)
    stopped_at = max(steps_by_pod(node_cluster, r).values())
    at = time.time()
    os.kill(pid, sig)
    return pod, stopped_at, at


def logs_by_pod(node_cluster, r) -> dict[str, str]:
    return {p["metadata"]["name"]: node_cluster.logs(r.ns, p["metadata"]["name"]) for p in r.pods()}


def steps_by_pod(node_cluster, r) -> dict[str, int]:
    out = {}
    for name, text in logs_by_pod(node_cluster, r).items():
        found = [int(m.group(2)) for m in STEP.finditer(text)]
        if found:
            out[name] = found[-1]
    return out


def joins_after(logs: dict[str, str], t: float) -> dict[int, float]:
    """Each rank's first join of a process group after time t."""
    first: dict[int, float] = {}
    for text in logs.values():
        for m in JOINED.finditer(text):
            rank, at = int(m.group(1)), float(m.group(2))
            if at > t and (rank not in first or at < first[rank]):
                first[rank] = at
    return first


def finish(node_cluster, r, killed_at: float, label: str) -> tuple[list[dict], dict[str, str]]:
    """Wait for every rank to rejoin (recording the recovery time) and for the Job to
    complete; return the results logged and every pod's log as last seen (once rank 0 has
    succeeded the Job's successPolicy deletes the other pods, and their logs with them)."""
    seen: dict[str, str] = {}

    def look():
        seen.update({k: v for k, v in logs_by_pod(node_cluster, r).items() if v})
        return seen

    def rejoined():
        look()
        j = joins_after(seen, killed_at)
        return len(j) == WORLD and j
    joined = node_cluster.wait_for("every rank in a new process group", rejoined, timeout=300, interval=1)
    TIMINGS[f"{label} -> all {WORLD} ranks rejoined"] = max(joined.values()) - killed_at
    job = f"{r.name}-pytorch"

    def complete():
        look()
        return any(c["type"] == "Complete" and c["status"] == "True"
                   for c in node_cluster.get("job", job, "-n", r.ns).get("status", {}).get("conditions", []))
    node_cluster.wait_for("the Job to complete", complete, timeout=600, interval=2)
    TIMINGS[f"{label} -> Job complete"] = time.time() - killed_at
    text = "\n".join(seen.values())
    return [json.loads(line.split(RESULT, 1)[1]) for line in text.splitlines() if RESULT in line], seen


def check(results: list[dict], logs: dict[str, str], stopped_at: int) -> None:
    text = "\n".join(logs.values())
    rank0 = [x for x in results if x["rank"] == 0]
    assert len(rank0) == 1, text[-3000:]
    for x in results:
        assert x["ok"] is True and x["steps"] == EPOCHS * STEPS and x["params_in_sync"] is True, x
    # Every rank finished the training in the last group (each logs this before the last barrier).
    assert sum("parameters in sync across ranks: True" in v for v in logs.values()) >= WORLD, text[-3000:]
    # The new group resumed from a checkpoint no older than one interval before the step the
    # ranks had logged when the failure came (a deleted pod's SIGTERM saves one at the next step).
    resumed = sorted({int(m.group(1)) for m in RESUMED.finditer(text)})
    assert resumed and resumed[-1] >= stopped_at - EVERY, (resumed, stopped_at)


def test_should_finish_the_job_when_a_ranks_process_is_killed(release, node_cluster):
    r = start(release, node_cluster)
    pod, stopped_at, killed_at = signal_training(node_cluster, r, 1, signal.SIGKILL)
    results, logs = finish(node_cluster, r, killed_at, "rank 1's process killed")
    check(results, logs, stopped_at)
    # The supervisor restarted it in the same pod: no pod was replaced.
    assert "pytorch-supervisor: attempt 0 exited 137; restart 1/8" in logs[pod["metadata"]["name"]]


def test_should_finish_the_job_when_a_ranks_pod_is_deleted(release, node_cluster):
    r = start(release, node_cluster)
    pod = rank_pod(r, 2)
    stopped_at = max(steps_by_pod(node_cluster, r).values())
    killed_at = time.time()
    node_cluster.kubectl("delete", "pod", "-n", r.ns, pod["metadata"]["name"], "--wait=false")
    results, logs = finish(node_cluster, r, killed_at, "rank 2's pod deleted")
    check(results, logs, stopped_at)
    # The Job controller made a new pod for index 2; the others stayed, and their supervisors
    # restarted the process after the checkpoint that the deleted pod's SIGTERM asked for.
    replaced = [n for n in logs if n.startswith(f"{r.name}-pytorch-2-") and n != pod["metadata"]["name"]]
    assert len(replaced) == 1, sorted(logs)
    assert "stopped at step" in "\n".join(logs.values())


def test_should_finish_the_job_when_a_rank_hangs(release, node_cluster):
    """A stopped process makes no progress and writes no heartbeat: the kubelet's liveness probe
    kills its pod (and the pods of the ranks stalled behind it), the Job makes new ones, and the
    group resumes from the last checkpoint."""
    r = start(release, node_cluster, "heartbeat.enabled=true", "heartbeat.timeoutSeconds=20",
              "livenessProbe.initialDelaySeconds=0", "livenessProbe.periodSeconds=5",
              "livenessProbe.failureThreshold=2", "job.backoffLimit=10")
    pod, stopped_at, hung_at = signal_training(node_cluster, r, 0, signal.SIGSTOP)
    results, logs = finish(node_cluster, r, hung_at, "rank 0's process stopped (hang)")
    check(results, logs, stopped_at)
    events = node_cluster.kubectl("get", "events", "-n", r.ns, "--field-selector",
                                  f"involvedObject.name={pod['metadata']['name']}", "-o", "json").stdout
    assert "Liveness probe failed" in events, events[-2000:]
