"""templates/statefulset.yaml: distributed mode, one pod per rank."""


def test_should_render_statefulset_not_deployment_in_distributed_mode(distributed):
    assert distributed.kinds() == ["NetworkPolicy", "Service", "Service", "ServiceAccount", "StatefulSet"]


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
