"""Pause and resume with `helm upgrade` on the real node (docs/fault-tolerance.md, "Pause and
resume").

3 ranks train with faultTolerance.enabled (the group-restart supervisor forwards SIGTERM to the
training process), a checkpoint every 10 steps on one claim that every rank mounts, and the
Kubernetes default terminationGracePeriodSeconds (30 s). Mid-training `helm upgrade
--reuse-values --set paused=true` stops every rank: the StatefulSet goes to 0 replicas, or the
Indexed Job is suspended; each rank gets SIGTERM, the ranks save a checkpoint together at the
next step and exit. `paused=false` brings the ranks back; they resume from that checkpoint (no
step lost but the one in flight, well under one checkpoint interval) and finish with the
parameters of the same training done in one process without a pause. Recorded: pause -> every
rank gone, resume -> every rank in a new process group, and the steps redone.
"""
from __future__ import annotations

import importlib.util
import json
import re
import time

import pytest

from harness.tools import ROOT

from .test_dying_rank import EPOCHS, EVERY, JOINED, RESULT, RESUMED, STEP, STEPS, TIMEOUT, WORLD
from .test_training import TIMINGS

pytestmark = pytest.mark.node

STOPPED = re.compile(r"\[rank \d+/\d+\] stopped at step (\d+) after a SIGTERM")
KINDS = {"statefulset": (), "job": ("job.enabled=true",)}


def reference_checksum() -> float:
    """The example's training done in one process: each step's gradient is the mean of the
    ranks' gradients on their (rank, step) samples, as DDP's all_reduce makes it."""
    spec = importlib.util.spec_from_file_location("ddp_train", ROOT / "files" / "examples" / "ddp_train.py")
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


class Watch:
    """Every container's log as last seen, keyed by pod name, uid and restart count (a pod that
    goes away takes its log with it; a restarted container starts a new one)."""

    def __init__(self, cluster, r):
        self.cluster, self.r, self.seen = cluster, r, {}

    def look(self) -> dict[str, str]:
        for pod in self.cluster.pods(self.r.ns, f"app.kubernetes.io/instance={self.r.name}"):
            if pod["metadata"]["labels"].get("app.kubernetes.io/component") == "test":
                continue
            statuses = pod.get("status", {}).get("containerStatuses") or [{}]
            key = f"{pod['metadata']['name']}#{pod['metadata']['uid']}#{statuses[0].get('restartCount', 0)}"
            try:
                text = self.cluster.logs(self.r.ns, pod["metadata"]["name"])
            except Exception:   # the pod went away between the list and the read
                continue
            if len(text) >= len(self.seen.get(key, "")):
                self.seen[key] = text
        return self.seen

    def text(self) -> str:
        return "\n".join(self.seen.values())

    def newest_step(self) -> int:
        return max((int(m.group(2)) for m in STEP.finditer(self.text())), default=0)


def helm_paused(cluster, r, paused: bool) -> float:
    at = time.time()
    cluster.helm("upgrade", r.name, str(ROOT), "-n", r.ns, "--reuse-values", "--set", f"paused={str(paused).lower()}")
    return at


@pytest.mark.parametrize("kind", KINDS)
def test_should_resume_from_the_pause_checkpoint_and_finish_with_the_reference_parameters(release, node_cluster,
                                                                                         kind, record_property):
    r = release(*KINDS[kind], "mode=distributed", f"worldSize={WORLD}", "examples.enabled=true",
                "persistence.enabled=false", "faultTolerance.enabled=true", "faultTolerance.maxRestarts=8",
                f"faultTolerance.collectiveTimeoutSeconds={TIMEOUT}", "checkpoint.persistence.enabled=true",
                "checkpoint.persistence.existingClaim=ckpt", f"checkpoint.everySteps={EVERY}",
                f"entrypoint.args=--epochs {EPOCHS} --steps {STEPS} --step-seconds 0.1")
    # One node: a ReadWriteOnce claim is mountable by every rank.
    node_cluster.apply(json.dumps({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "ckpt", "namespace": r.ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    r.install(wait=False)
    watch = Watch(node_cluster, r)
    node_cluster.wait_for("every rank training", lambda: len(r.pods()) == WORLD and watch.look()
                          and watch.newest_step() >= 3 * EVERY, timeout=300, interval=1)
    claim_uid = node_cluster.get("pvc", "ckpt", "-n", r.ns)["metadata"]["uid"]

    # Pause: every rank gone, their logs read until they go (each says where it stopped).
    logged_at_pause = watch.newest_step()
    paused_at = helm_paused(node_cluster, r, True)

    def gone():
        watch.look()
        return node_cluster.pods(r.ns, f"app.kubernetes.io/instance={r.name}") == []
    node_cluster.wait_for("every rank gone", gone, timeout=120, interval=0.2)
    pause_s = time.time() - paused_at
    TIMINGS[f"pause ({kind}): upgrade paused=true -> every rank gone"] = pause_s
    # Every rank stopped at the same step (the one a pod's log was read in time to show, at least).
    stopped = sorted({int(m.group(1)) for m in STOPPED.finditer(watch.text())})
    assert len(stopped) <= 1, stopped
    assert node_cluster.get("pvc", "ckpt", "-n", r.ns)["metadata"]["uid"] == claim_uid
    history = json.loads(node_cluster.helm("history", r.name, "-n", r.ns, "-o", "json").stdout)
    assert [(h["revision"], h["status"]) for h in history] == [(1, "superseded"), (2, "deployed")]
    if kind == "job":
        job = node_cluster.get("job", f"{r.name}-pytorch", "-n", r.ns)
        assert job["spec"]["suspend"] is True and job["status"].get("failed", 0) == 0, job["status"]

    # Resume: every rank in a new process group, from the pause checkpoint, to the end.
    before_resume = set(watch.seen)
    resumed_at = helm_paused(node_cluster, r, False)

    def rejoined():
        watch.look()
        joins = {int(m.group(1)): float(m.group(2)) for m in JOINED.finditer(watch.text()) if float(m.group(2)) > resumed_at}
        return len(joins) == WORLD and joins
    joins = node_cluster.wait_for("every rank in a new process group", rejoined, timeout=300, interval=1)
    resume_s = max(joins.values()) - resumed_at
    TIMINGS[f"pause ({kind}): upgrade paused=false -> every rank joined"] = resume_s

    def finished():
        watch.look()
        new = [t for k, t in watch.seen.items() if k not in before_resume and k.endswith("#0")]
        found = [json.loads(line.split(RESULT, 1)[1]) for t in new for line in t.splitlines() if RESULT in line]
        return len(found) == WORLD and (found, "\n".join(new))
    results, text = node_cluster.wait_for("every rank's result", finished, timeout=600, interval=1)
    # Every rank resumed from the checkpoint saved on SIGTERM: newer than the last step logged
    # before the upgrade, and (where a log showed it) the step every rank stopped at.
    resumed = sorted({int(m.group(1)) for m in RESUMED.finditer(text)})
    assert len(resumed) == 1 and resumed[0] > logged_at_pause and stopped in ([], resumed), (resumed, stopped, logged_at_pause)
    pause_step = resumed[0]
    for x in results:
        assert x["ok"] is True and x["steps"] == EPOCHS * STEPS and x["resumed_from"] == pause_step, x
    # The same parameters as one process training all the steps without a pause.
    assert results[0]["checksum"] == pytest.approx(reference_checksum(), rel=1e-6), results[0]
    record_property("pause", {"kind": kind, "logged_step_at_pause": logged_at_pause, "checkpoint_step": pause_step,
                              "stopped_logged": stopped, "steps_redone": 0, "pause_s": round(pause_s, 1), "resume_s": round(resume_s, 1)})
