"""templates/statefulset.yaml: distributed mode, one pod per rank."""
import pytest

from harness.presets import SHARED_CLAIM, distributed, merge


def test_should_render_statefulset_not_deployment_in_distributed_mode(distributed):
    assert distributed.kinds() == ["NetworkPolicy", "PodDisruptionBudget", "Service", "Service", "ServiceAccount", "StatefulSet"]


def test_should_not_render_statefulset_in_standalone_mode(default):
    assert default.find("StatefulSet") is None


def test_should_run_one_pod_per_rank_under_the_headless_service(distributed):
    spec = distributed["StatefulSet"]["spec"]
    assert spec["replicas"] == 4
    assert spec["serviceName"] == "rel-pytorch-headless"


def test_should_start_every_rank_at_once(distributed):
    assert distributed["StatefulSet"]["spec"]["podManagementPolicy"] == "Parallel"


def test_should_give_each_rank_its_own_claim_by_default(distributed):
    sts = distributed["StatefulSet"]
    [claim] = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    assert "data" not in distributed.volumes()
    assert distributed.mounts()["/data"]["name"] == "data"
    assert distributed.find("PersistentVolumeClaim") is None


def test_should_keep_claim_template_labels_stable_across_chart_versions(distributed):
    labels = distributed["StatefulSet"]["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]
    assert labels == {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}


# --- persistentVolumeClaimRetentionPolicy -----------------------------------------------------

def test_should_retain_per_rank_claims_by_default(distributed):
    assert distributed["StatefulSet"]["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain", "whenScaled": "Retain"}


@pytest.mark.parametrize("policy", [{"whenDeleted": "Delete", "whenScaled": "Retain"},
                                    {"whenDeleted": "Retain", "whenScaled": "Delete"}], ids=["deleted", "scaled"])
def test_should_pass_each_claim_retention_setting(render, policy):
    sts = render(merge(distributed(5), {"persistentVolumeClaimRetentionPolicy": policy}))["StatefulSet"]
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == policy


@pytest.mark.parametrize("values", [{"persistence": {"enabled": False}}, SHARED_CLAIM,
                                    {"persistence": {"existingClaim": "data"}}], ids=["no-persistence", "shared", "existing"])
def test_should_leave_out_the_retention_policy_without_per_rank_claims(render, values):
    sts = render(merge(distributed(3), values, {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}}))["StatefulSet"]
    assert "persistentVolumeClaimRetentionPolicy" not in sts["spec"] and "volumeClaimTemplates" not in sts["spec"]
