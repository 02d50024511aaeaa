"""templates/_ranks.tpl: how many ranks there are, which rank each pod is (rankLabel,
rankFieldPath), how many processes torchrun starts in a pod, and where rank 0 is (MASTER_ADDR)."""
import pytest

from harness.pods import pod_envs, pod_identities, pod_metadata, resolved_env
from harness.presets import CODE, JOB, SHARED_CLAIM, TORCHRUN, distributed, merge

POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']"
COMPLETION_INDEX = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
MASTER = "rel-pytorch-0.rel-pytorch-headless.ml.svc.cluster.local"
DIST_JOB = merge(CODE, distributed(4), JOB, SHARED_CLAIM)


def rank_envs(m) -> list[dict]:
    """Each pod's resolved env: the StatefulSet controller creates pods with ordinals
    0..replicas-1, and RANK is read from the pod's ordinal label."""
    assert m.env()["RANK"] == {"fieldRef": {"fieldPath": POD_INDEX}}
    return pod_envs(m["StatefulSet"])


def test_should_give_the_single_process_rank_zero_of_one(default):
    env = default.env()
    assert env["RANK"] == "0" and env["WORLD_SIZE"] == "1"
    assert env["MASTER_ADDR"] == "127.0.0.1" and env["MASTER_PORT"] == "49875"


def test_should_run_exactly_world_size_pods_of_the_readme_example(distributed):
    assert distributed["StatefulSet"]["spec"]["replicas"] == 4
    assert [int(env["RANK"]) for env in rank_envs(distributed)] == [0, 1, 2, 3]


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


def test_should_read_indexed_job_ranks_from_the_completion_index(render):
    m = render(DIST_JOB)
    assert m.env()["RANK"] == {"fieldRef": {"fieldPath": COMPLETION_INDEX}}
    assert [int(env["RANK"]) for env in pod_envs(m["Job"])] == [0, 1, 2, 3]


@pytest.mark.parametrize("values,label", [
    (distributed(2), "apps.kubernetes.io/pod-index"),
    (DIST_JOB, "batch.kubernetes.io/job-completion-index"),
])
def test_should_send_master_service_traffic_to_the_one_pod_of_rank_zero(render, values, label):
    m = render(values)
    workload, selector = m.workload(), m.get("Service", "rel-pytorch")["spec"]["selector"]
    assert selector[label] == "0"
    pods = [pod_metadata(workload, identity) for identity in pod_identities(workload)]
    [master] = [pod for pod in pods if selector.items() <= pod["labels"].items()]
    assert resolved_env(m.container(), master)["RANK"] == "0"


def test_should_point_master_addr_at_rank_zero_through_the_headless_service(distributed):
    sts = distributed["StatefulSet"]
    pod0 = f"{sts['metadata']['name']}-0"
    headless = distributed.get("Service", sts["spec"]["serviceName"])
    assert distributed.env()["MASTER_ADDR"] == f"{pod0}.{headless['metadata']['name']}.ml.svc.cluster.local"
    assert headless["spec"]["publishNotReadyAddresses"] is True


def test_should_use_cluster_domain_in_master_addr(render):
    m = render(merge({"clusterDomain": "k8s.internal"}, distributed(2)))
    assert m.env()["MASTER_ADDR"] == "rel-pytorch-0.rel-pytorch-headless.ml.svc.k8s.internal"


@pytest.mark.parametrize("torchrun,gpu,expected", [
    ({}, {}, "1"), ({}, {"count": 8}, "8"), ({"nprocPerNode": 2}, {}, "2"), ({"nprocPerNode": 4}, {"count": 8}, "4")])
def test_should_pick_processes_per_pod(render, torchrun, gpu, expected):
    env = render(merge(CODE, TORCHRUN, distributed(2), {"torchrun": torchrun, "gpu": gpu})).env()
    assert env["NPROC_PER_NODE"] == expected and env["NNODES"] == "2"


def test_should_run_torchrun_standalone_as_one_node(render):
    env = render(merge(CODE, TORCHRUN, {"gpu": {"count": 4}})).env()
    assert (env["NNODES"], env["NPROC_PER_NODE"], env["NODE_RANK"], env["MASTER_ADDR"]) == ("1", "4", "0", "127.0.0.1")
