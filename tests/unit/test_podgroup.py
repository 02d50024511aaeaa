"""templates/podgroup.yaml: the scheduler-plugins coscheduling PodGroup and Kubernetes' own
scheduling.k8s.io/v1beta1 PodGroup."""
import pytest

from harness.presets import CODE, JOB, SHARED_CLAIM, distributed, merge

API = ("--api-versions", "scheduling.x-k8s.io/v1alpha1/PodGroup")
COSCHEDULING = {"gangScheduling": {"enabled": True, "provider": "coscheduling",
                                   "coscheduling": {"scheduleTimeoutSeconds": 300}}}


@pytest.mark.parametrize("values", [distributed(6), merge(distributed(6), CODE, JOB, SHARED_CLAIM)],
                         ids=["StatefulSet", "Indexed Job"])
def test_should_render_a_pod_group_of_every_rank(render, values):
    pg = render(merge(values, COSCHEDULING), args=API).get("PodGroup", "rel-pytorch")
    assert pg["apiVersion"] == "scheduling.x-k8s.io/v1alpha1"
    assert pg["metadata"]["namespace"] == "ml"
    assert pg["metadata"]["labels"]["app.kubernetes.io/instance"] == "rel"
    assert pg["spec"] == {"minMember": 6, "scheduleTimeoutSeconds": 300}


def test_should_render_the_pod_group_when_forced(render):
    m = render(merge(distributed(2), COSCHEDULING, {"gangScheduling": {"force": True}}))
    assert m.get("PodGroup")["spec"] == {"minMember": 2, "scheduleTimeoutSeconds": 300}


@pytest.mark.parametrize("values,api", [
    (merge(distributed(2), COSCHEDULING), ()),
    (merge(distributed(2), COSCHEDULING, {"gangScheduling": {"provider": "volcano", "force": True}}), API),
    (distributed(2), API),
], ids=["not-served", "volcano", "gang-off"])
def test_should_render_no_pod_group(render, values, api):
    assert render(values, args=api).find("PodGroup") is None


@pytest.mark.parametrize("values", [distributed(6), merge(distributed(6), CODE, JOB, SHARED_CLAIM)],
                         ids=["StatefulSet", "Indexed Job"])
def test_should_count_pods_not_processes_in_the_pod_group(render, values):
    """torchrun runs several processes in each pod (one per GPU here); the group is made of pods."""
    values = merge(values, CODE, COSCHEDULING, {"launcher": "torchrun", "gpu": {"count": 4}})
    assert render(values, args=API).get("PodGroup", "rel-pytorch")["spec"]["minMember"] == 6


# Kubernetes' own PodGroup (scheduling.k8s.io/v1beta1, Kubernetes 1.37+): see test_gang.py for the
# pods' spec.schedulingGroup that names it.
KUBERNETES_API = ("--api-versions", "scheduling.k8s.io/v1beta1/PodGroup", "--kube-version", "1.37.0")
KUBERNETES = {"gangScheduling": {"enabled": True, "provider": "kubernetes"}}


@pytest.mark.parametrize("values", [distributed(6), merge(distributed(6), CODE, JOB, SHARED_CLAIM)],
                         ids=["StatefulSet", "Indexed Job"])
def test_should_render_a_kubernetes_pod_group_of_every_rank(render, values):
    m = render(merge(values, KUBERNETES, {"commonAnnotations": {"team": "ml"}}), args=KUBERNETES_API)
    pg = m.get("PodGroup", "rel-pytorch")
    assert pg["apiVersion"] == "scheduling.k8s.io/v1beta1"
    assert pg["metadata"]["namespace"] == "ml" and pg["metadata"]["annotations"] == {"team": "ml"}
    assert pg["metadata"]["labels"]["app.kubernetes.io/instance"] == "rel"
    assert pg["spec"] == {"schedulingPolicy": {"gang": {"minCount": 6}}}
    assert m.pod_spec()["schedulingGroup"] == {"podGroupName": pg["metadata"]["name"]}


def test_should_render_the_kubernetes_pod_group_when_forced(render):
    m = render(merge(distributed(4), KUBERNETES, {"gangScheduling": {"force": True}}))
    assert m.get("PodGroup")["spec"] == {"schedulingPolicy": {"gang": {"minCount": 4}}}


@pytest.mark.parametrize("values,api", [
    (merge(distributed(2), KUBERNETES), ()),
    (merge(distributed(2), KUBERNETES), API),
    (merge(distributed(2), COSCHEDULING), KUBERNETES_API),
    (distributed(2), KUBERNETES_API),
], ids=["not-served", "only-coscheduling-served", "coscheduling", "gang-off"])
def test_should_render_no_kubernetes_pod_group(render, values, api):
    assert all(pg["apiVersion"] != "scheduling.k8s.io/v1beta1" for pg in render(values, args=api).all("PodGroup"))


@pytest.mark.parametrize("values", [distributed(6), merge(distributed(6), CODE, JOB, SHARED_CLAIM)],
                         ids=["StatefulSet", "Indexed Job"])
def test_should_count_pods_not_processes_in_the_kubernetes_pod_group(render, values):
    values = merge(values, CODE, KUBERNETES, {"launcher": "torchrun", "gpu": {"count": 4}})
    assert render(values, args=KUBERNETES_API).get("PodGroup")["spec"]["schedulingPolicy"]["gang"]["minCount"] == 6
