"""`paused` (templates/_pause.tpl): every rank stops gracefully and the release, its claims and
the pod template stay, so `paused=false` resumes from the checkpoint each rank saved on SIGTERM
(docs/fault-tolerance.md, "Pause and resume"). StatefulSet and Deployment: 0 replicas; Job:
spec.suspend, refused with kueue.queueName (Kueue drives the Job's suspend itself)."""
from __future__ import annotations

import pytest

from harness.presets import CODE, JOB, SHARED_CLAIM, distributed, merge

PAUSED = {"paused": True}
STS = merge(CODE, distributed(5))
DIST_JOB = merge(CODE, distributed(5), JOB, SHARED_CLAIM)
QUEUED = {"kueue": {"queueName": "training"}}
KUEUE_REFUSED = (
    "paused: Kueue (kueue.queueName=training) suspends and resumes this Job itself and would undo the "
    "chart's suspend; pause it through its Workload instead: kubectl patch workloads.kueue.x-k8s.io -n ml "
    "<name from kubectl get workloads -n ml> --type merge -p '{\"spec\":{\"active\":false}}' (true resumes), "
    "and leave paused=false")


def without(obj: dict, *keys: str) -> dict:
    return {k: v for k, v in obj.items() if k not in keys}


@pytest.mark.parametrize("queue", [{}, QUEUED], ids=["plain", "kueue"])
def test_should_scale_the_statefulset_to_zero_and_keep_its_pod_template_when_paused(render, queue):
    running, paused = render(merge(STS, queue))["StatefulSet"], render(merge(STS, queue, PAUSED))["StatefulSet"]
    assert (running["spec"]["replicas"], paused["spec"]["replicas"]) == (5, 0)
    # Nothing else changes: no pod is restarted by the pause itself, and resume finds the same revision.
    assert without(paused["spec"], "replicas") == without(running["spec"], "replicas")
    assert paused["metadata"] == running["metadata"]


def test_should_retain_every_ranks_claim_while_paused_whatever_whenscaled_says(render):
    delete = merge(STS, {"persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete", "whenDeleted": "Delete"}})
    assert render(delete)["StatefulSet"]["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Delete", "whenScaled": "Delete"}
    assert render(merge(delete, PAUSED))["StatefulSet"]["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Delete", "whenScaled": "Retain"}


def test_should_leave_the_pod_disruption_budget_as_it_is_when_paused(render):
    # Scaling down is no eviction: a budget of maxUnavailable 0 does not hold the pause back.
    assert render(merge(STS, PAUSED))["PodDisruptionBudget"] == render(STS)["PodDisruptionBudget"]


@pytest.mark.parametrize("mode", [{}, QUEUED], ids=["plain", "kueue"])
def test_should_scale_the_deployment_to_zero_when_paused(render, mode):
    running, paused = render(merge(CODE, mode))["Deployment"], render(merge(CODE, mode, PAUSED))["Deployment"]
    assert (running["spec"]["replicas"], paused["spec"]["replicas"]) == (1, 0)
    assert without(paused["spec"], "replicas") == without(running["spec"], "replicas")


@pytest.mark.parametrize("values", [DIST_JOB, merge(CODE, JOB)], ids=["indexed", "standalone"])
def test_should_suspend_the_job_and_keep_its_checksum_when_paused(render, values):
    running, paused = render(values)["Job"], render(merge(values, PAUSED))["Job"]
    assert "suspend" not in running["spec"]
    assert paused["spec"]["suspend"] is True
    # suspend is the one change: the checksum/pod-template guard (_upgrade.tpl) lets the upgrade through.
    assert without(paused["spec"], "suspend") == running["spec"]
    assert paused["metadata"] == running["metadata"]


def test_should_leave_a_queued_jobs_suspend_to_kueue_when_running(render):
    job = render(merge(DIST_JOB, QUEUED))["Job"]
    assert "suspend" not in job["spec"]
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "training"


def test_should_refuse_to_pause_a_job_that_kueue_queues_naming_the_key_and_the_way_out(render_error):
    message = render_error(merge(DIST_JOB, QUEUED, PAUSED))
    assert f"  - {KUEUE_REFUSED}\n" in message, message


def test_should_run_as_the_default_does_when_paused_is_false(render):
    for values in (STS, DIST_JOB, CODE):
        assert list(render(merge(values, {"paused": False}))) == list(render(values))


def test_should_refuse_a_null_paused_naming_the_key(render_error):
    # helm drops a null key from the values; the schema then names the key that is gone.
    assert "missing property 'paused'" in render_error(merge(STS, {"paused": None}))
