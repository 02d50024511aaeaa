"""templates/job.yaml: run to completion (job.*)."""
import pytest

from harness.presets import CODE, JOB, SHARED_CLAIM, distributed, merge

DIST_JOB = merge(CODE, distributed(4), JOB, SHARED_CLAIM)


def test_should_not_render_job_by_default(default, distributed):
    assert default.find("Job") is None and distributed.find("Job") is None


def test_should_render_plain_job_in_standalone_mode(render):
    m = render(merge(CODE, JOB))
    assert m.find("Deployment") is None
    job = m["Job"]
    assert "completionMode" not in job["spec"] and job["spec"]["backoffLimit"] == 3
    assert m.pod_spec()["restartPolicy"] == "Never"
    assert m.env()["RANK"] == "0" and m.env()["WORLD_SIZE"] == "1"
    assert m.get("PersistentVolumeClaim", "rel-pytorch")


def test_should_render_indexed_job_with_one_index_per_rank(render):
    m = render(DIST_JOB)
    assert m.find("StatefulSet") is None
    spec = m["Job"]["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 4, 4)


def test_should_give_indexed_pods_stable_names_under_the_headless_service(render):
    m = render(DIST_JOB)
    headless = m.get("Service", "rel-pytorch-headless")
    assert m.pod_spec()["subdomain"] == headless["metadata"]["name"]
    assert headless["spec"]["publishNotReadyAddresses"] is True
    # Indexed Job pods are named <job>-<index> as hostnames: rank 0's name is MASTER_ADDR
    assert m.env()["MASTER_ADDR"] == "rel-pytorch-0.rel-pytorch-headless.ml.svc.cluster.local"
    assert m.get("Service", "rel-pytorch")["spec"]["selector"]["batch.kubernetes.io/job-completion-index"] == "0"


@pytest.mark.parametrize("args", [(), ("--kube-version", "1.33.0")], ids=["newest", "first-ga-1.33"])
def test_should_succeed_when_rank_zero_succeeds_where_kubernetes_allows(render, args):
    assert render(DIST_JOB, args=args)["Job"]["spec"]["successPolicy"] == {"rules": [{"succeededIndexes": "0"}]}


@pytest.mark.parametrize("version", ["1.30.0", "1.32.0"])
def test_should_leave_success_policy_out_before_kubernetes_1_33(render, version):
    assert "successPolicy" not in render(DIST_JOB, args=("--kube-version", version))["Job"]["spec"]


def test_should_not_count_evictions_against_backoff_limit(render):
    policy = render(DIST_JOB)["Job"]["spec"]["podFailurePolicy"]
    assert policy == {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}


def test_should_drop_pod_failure_policy_without_rules(render):
    assert "podFailurePolicy" not in render({**DIST_JOB, "job": {"enabled": True, "podFailurePolicy": {"rules": []}}})["Job"]["spec"]


def test_should_set_backoff_deadline_and_ttl(render):
    spec = render(merge(CODE, {"job": {"enabled": True, "backoffLimit": 0, "activeDeadlineSeconds": 3600,
                                       "ttlSecondsAfterFinished": 0}}))["Job"]["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (0, 3600, 0)


def test_should_leave_deadline_and_ttl_unset_by_default(render):
    spec = render(merge(CODE, JOB))["Job"]["spec"]
    assert "activeDeadlineSeconds" not in spec and "ttlSecondsAfterFinished" not in spec


def test_should_run_example_as_indexed_job(render):
    m = render(merge({"examples": {"enabled": True}}, distributed(2), JOB, {"persistence": {"enabled": False}}))
    assert m.container()["command"] == ["python", "/app/ddp_train.py"]
    assert m.get("ConfigMap", "rel-pytorch-files")


# --- fail fast: faultTolerance.nonRetriableExitCodes --------------------------------------------

FAIL_FAST = {"action": "FailJob", "onExitCodes": {"containerName": "pytorch", "operator": "In", "values": [2, 3, 42]}}
IGNORE_DISRUPTIONS = {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}


def test_should_fail_the_job_at_once_on_a_non_retriable_exit_code(render):
    policy = render(merge(DIST_JOB, {"faultTolerance": {"nonRetriableExitCodes": [42, 3, 2]}}))["Job"]["spec"]["podFailurePolicy"]
    assert policy == {"rules": [IGNORE_DISRUPTIONS, FAIL_FAST]}


def test_should_fail_fast_on_the_first_and_the_last_exit_code_of_the_range(render):
    policy = render(merge(DIST_JOB, {"faultTolerance": {"nonRetriableExitCodes": [255, 128, 1]}}))["Job"]["spec"]["podFailurePolicy"]
    assert policy == {"rules": [IGNORE_DISRUPTIONS, {"action": "FailJob", "onExitCodes": {
        "containerName": "pytorch", "operator": "In", "values": [1, 128, 255]}}]}


def test_should_render_the_fail_fast_rule_without_rules_of_its_own(render):
    values = merge(CODE, JOB, {"job": {"podFailurePolicy": {"rules": []}}, "faultTolerance": {"nonRetriableExitCodes": [3, 42, 2]}})
    assert render(values)["Job"]["spec"]["podFailurePolicy"] == {"rules": [FAIL_FAST]}


def test_should_add_no_fail_fast_rule_without_non_retriable_codes(render):
    assert render(DIST_JOB)["Job"]["spec"]["podFailurePolicy"] == {"rules": [IGNORE_DISRUPTIONS]}
