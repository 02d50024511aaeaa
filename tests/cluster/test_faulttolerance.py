"""Fault tolerance on the embedded control plane (level: API server and the real Job and
garbage-collection controllers; kwok pods, so no container runs): a non-retriable exit code fails
the Job at once through its podFailurePolicy while any other code is retried, and the checkpoint
claim outlives `helm uninstall` unless checkpoint.persistence.keep=false.

A rank's failure is written the way the kubelet writes it: the pod's status subresource gets phase
Failed and the pytorch container terminated with the exit code. kwok leaves the pods alone
otherwise: they carry kwok.pytorch-chart.test/hold-running, so kwok does not complete them."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from .controlplane import names

pytestmark = pytest.mark.cluster

HOLD = "podAnnotations.kwok\\.pytorch-chart\\.test/hold-running=true"
INDEX = "batch.kubernetes.io/job-completion-index"
TIMINGS: dict[str, float] = {}


def install_job(cluster, ns: str, release: str, chart: str) -> list[dict]:
    """A 3-rank Indexed Job whose codes 2 and 3 are not retriable; its pods, Running."""
    args = ["mode=distributed", "worldSize=3", "job.enabled=true", "entrypoint.file=/w/train.py",
            "persistence.enabled=false", "faultTolerance.nonRetriableExitCodes={2,3}"]
    cluster.helm("install", release, chart, "-n", ns, *[a for s in args for a in ("--set", s)], "--set-string", HOLD)
    return cluster.wait_pods_running(ns, f"app.kubernetes.io/instance={release}", 3, timeout=60)


def fail_pod(cluster, ns: str, pod: dict, exit_code: int) -> None:
    """What the kubelet writes when the pytorch container exits with exit_code."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "pytorch")
    status = {"status": {"phase": "Failed", "containerStatuses": [{
        "name": "pytorch", "image": container["image"], "imageID": "", "ready": False, "restartCount": 0,
        "started": False, "state": {"terminated": {"exitCode": exit_code, "reason": "Error",
                                                   "startedAt": now, "finishedAt": now}}}]}}
    cluster.kubectl("patch", "pod", pod["metadata"]["name"], "-n", ns, "--subresource=status", "--type=merge",
                    "-p", json.dumps(status))


def condition(job: dict, kind: str) -> dict | None:
    return next((c for c in job.get("status", {}).get("conditions", []) if c["type"] == kind and c["status"] == "True"), None)


def rank(pods: list[dict], index: int) -> dict:
    return next(p for p in pods if p["metadata"]["labels"][INDEX] == str(index))


def test_should_fail_the_job_at_once_on_a_non_retriable_exit_code(cluster, namespace, chart):
    ns = namespace()
    pods = install_job(cluster, ns, "ff", chart)
    start = time.monotonic()
    fail_pod(cluster, ns, rank(pods, 1), 3)
    job = cluster.wait_for("the Job Failed", lambda: (j if condition(j := cluster.get("job", "ff-pytorch", "-n", ns), "Failed")
                                                      else None), 30)
    TIMINGS["fail-fast Job: exit 3 -> Failed"] = time.monotonic() - start
    failed = condition(job, "Failed")
    assert failed["reason"] == "PodFailurePolicy", job["status"]
    # The chart's rule comes after the default Ignore-on-disruption rule (index 0).
    assert failed["message"] == (f"Container pytorch for pod {ns}/{rank(pods, 1)['metadata']['name']} failed with exit "
                                 "code 3 matching FailJob rule at index 1"), failed
    # One failure against a backoffLimit of 3; the two other ranks were stopped by the Job
    # controller and count as failed too.
    assert job["spec"]["backoffLimit"] == 3 and job["status"]["failed"] == 3
    # No replacement pod: every pod the Job ever had is one of the first three (the others are deleted).
    assert set(names(cluster.pods(ns, "app.kubernetes.io/instance=ff"))) <= set(names(pods))


def test_should_retry_a_rank_that_exits_with_another_code(cluster, namespace, chart):
    ns = namespace()
    pods = install_job(cluster, ns, "retry", chart)
    failed = rank(pods, 1)
    fail_pod(cluster, ns, failed, 1)

    def replacement():
        now = cluster.pods(ns, f"app.kubernetes.io/instance=retry,{INDEX}=1")
        new = [p for p in now if p["metadata"]["name"] != failed["metadata"]["name"]]
        return new or None
    (new,) = cluster.wait_for("a replacement pod for rank 1", replacement, 30)
    job = cluster.wait_for("the Job counting one failure",
                           lambda: (j if (j := cluster.get("job", "retry-pytorch", "-n", ns))["status"].get("failed") == 1
                                    else None), 30)
    assert condition(job, "Failed") is None and condition(job, "FailureTarget") is None
    assert new["metadata"]["labels"][INDEX] == "1"


@pytest.mark.parametrize("keep", [True, False])
def test_should_keep_the_checkpoint_claim_on_uninstall_unless_told(cluster, namespace, chart, keep):
    ns = namespace()
    release = "keep" if keep else "drop"
    cluster.helm("install", release, chart, "-n", ns, "--set", "persistence.enabled=false",
                 "--set", "checkpoint.persistence.enabled=true", "--set", f"checkpoint.persistence.keep={str(keep).lower()}")
    claim = f"{release}-pytorch-checkpoints"
    pvc = cluster.get("pvc", claim, "-n", ns)
    policy = pvc["metadata"].get("annotations", {}).get("helm.sh/resource-policy")
    assert policy == ("keep" if keep else None)
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]

    cluster.helm("uninstall", release, "-n", ns, "--wait", "--timeout", "120s")
    cluster.wait_for("the Deployment gone", lambda: cluster.get("deployments", "-n", ns)["items"] == [], 60)
    if keep:
        left = cluster.get("pvc", "-n", ns)["items"]
        assert names(left) == [claim] and left[0]["metadata"].get("deletionTimestamp") is None
    else:
        cluster.wait_for("the claim deleted", lambda: cluster.get("pvc", "-n", ns)["items"] == [], 60)
