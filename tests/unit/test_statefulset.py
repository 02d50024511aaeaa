"""templates/statefulset.yaml: distributed mode."""
import pytest

from harness.pods import pod_envs

POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']"
MASTER = "rel-pytorch-0.rel-pytorch-headless.ml.svc.cluster.local"


def rank_envs(m) -> list[dict]:
    """Each pod's resolved env: the StatefulSet controller creates pods with ordinals
    0..replicas-1, and RANK is read from the pod's ordinal label."""
    assert m.env()["RANK"] == {"fieldRef": {"fieldPath": POD_INDEX}}
    return pod_envs(m["StatefulSet"])


def ranks_kubernetes_would_assign(m) -> list[int]:
    return [int(env["RANK"]) for env in rank_envs(m)]


def test_should_render_statefulset_not_deployment_in_distributed_mode(distributed):
    assert distributed.kinds() == ["NetworkPolicy", "Service", "Service", "ServiceAccount", "StatefulSet"]


def test_should_not_render_statefulset_in_standalone_mode(default):
    assert default.find("StatefulSet") is None


def test_should_run_exactly_world_size_pods_of_the_readme_example(distributed):
    assert distributed["StatefulSet"]["spec"]["replicas"] == 4
    assert ranks_kubernetes_would_assign(distributed) == [0, 1, 2, 3]


@pytest.mark.parametrize("world_size", range(1, 65))
def test_should_give_ranks_exactly_zero_to_n_minus_one(render, world_size):
    m = render(None, "mode=distributed", f"worldSize={world_size}")
    envs = rank_envs(m)
    ranks = [int(env["RANK"]) for env in envs]
    assert sorted(ranks) == list(range(world_size)) and len(set(ranks)) == world_size
    assert {env["WORLD_SIZE"] for env in envs} == {str(world_size)}
    assert {env["MASTER_ADDR"] for env in envs} == {MASTER}
    # rank 0 is the pod that MASTER_ADDR names
    assert envs[0]["POD_NAME"] == MASTER.split(".")[0] and envs[0]["RANK"] == "0"


def test_should_start_every_rank_at_once(distributed):
    assert distributed["StatefulSet"]["spec"]["podManagementPolicy"] == "Parallel"


def test_should_point_master_addr_at_rank_zero_through_the_headless_service(distributed):
    sts = distributed["StatefulSet"]
    pod0 = f"{sts['metadata']['name']}-0"
    headless = distributed.get("Service", sts["spec"]["serviceName"])
    assert distributed.env()["MASTER_ADDR"] == f"{pod0}.{headless['metadata']['name']}.ml.svc.cluster.local"
    assert headless["spec"]["publishNotReadyAddresses"] is True


def test_should_use_cluster_domain_in_master_addr(render):
    m = render({"clusterDomain": "k8s.internal"}, "mode=distributed", "worldSize=2")
    assert m.env()["MASTER_ADDR"] == "rel-pytorch-0.rel-pytorch-headless.ml.svc.k8s.internal"


def test_should_use_one_port_for_container_services_and_master_port(render):
    m = render({"port": 23456}, "mode=distributed", "worldSize=2")
    assert m.container()["ports"] == [{"name": "dist", "containerPort": 23456, "protocol": "TCP"}]
    assert m.env()["MASTER_PORT"] == "23456"
    for svc in m.all("Service"):
        assert svc["spec"]["ports"][0]["port"] == 23456 and svc["spec"]["ports"][0]["targetPort"] == "dist"


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


@pytest.mark.parametrize("mode", ["ReadWriteMany", "ReadOnlyMany"])
def test_should_share_one_claim_when_access_mode_allows_many_nodes(render, mode):
    m = render({"persistence": {"accessMode": mode}}, "mode=distributed", "worldSize=3")
    assert "volumeClaimTemplates" not in m["StatefulSet"]["spec"]
    pvc = m.get("PersistentVolumeClaim", "rel-pytorch")
    assert pvc["spec"]["accessModes"] == [mode]
    assert m.volumes()["data"]["persistentVolumeClaim"]["claimName"] == "rel-pytorch"


def test_should_mount_read_only_claim_read_only(render):
    m = render({"persistence": {"accessMode": "ReadOnlyMany"}}, "mode=distributed", "worldSize=2")
    assert m.mounts()["/data"]["readOnly"] is True


def test_should_share_existing_claim_between_ranks(render):
    m = render({"persistence": {"existingClaim": "datasets"}}, "mode=distributed", "worldSize=2")
    assert "volumeClaimTemplates" not in m["StatefulSet"]["spec"]
    assert m.find("PersistentVolumeClaim") is None
    assert m.volumes()["data"]["persistentVolumeClaim"]["claimName"] == "datasets"


def test_should_use_empty_dir_for_data_without_persistence(render):
    m = render({"persistence": {"enabled": False}}, "mode=distributed", "worldSize=2")
    assert "volumeClaimTemplates" not in m["StatefulSet"]["spec"]
    assert m.volumes()["data"] == {"name": "data", "emptyDir": {}}
