"""templates/_gang.tpl: gang scheduling with Volcano (annotations), scheduler-plugins
coscheduling (a PodGroup and its pod label) or Kubernetes' own gang (a scheduling.k8s.io PodGroup
and the pods' spec.schedulingGroup), rendered when the cluster serves the provider's PodGroup API
or when forced."""
import pytest

from harness.render import chart_copy
from harness.presets import CODE, JOB, SHARED_CLAIM, distributed, merge

VOLCANO_API = ("--api-versions", "scheduling.volcano.sh/v1beta1/PodGroup")
COSCHEDULING_API = ("--api-versions", "scheduling.x-k8s.io/v1alpha1/PodGroup")
# A cluster that serves scheduling.k8s.io/v1beta1 is 1.37 or newer: the harness then validates the
# Indexed Job (whose template reads the version) at 1.37 only, not at the oldest supported one.
KUBERNETES_API = ("--api-versions", "scheduling.k8s.io/v1beta1/PodGroup", "--kube-version", "1.37.0")
VOLCANO = {"gangScheduling": {"enabled": True, "provider": "volcano", "volcano": {"queue": "training"}}}
COSCHEDULING = {"gangScheduling": {"enabled": True, "provider": "coscheduling"}}
KUBERNETES = {"gangScheduling": {"enabled": True, "provider": "kubernetes"}}
WORKLOADS = {"StatefulSet": distributed(3), "Indexed Job": merge(distributed(3), CODE, JOB, SHARED_CLAIM)}


def gang_keys(m) -> dict:
    """Every gang label, annotation and the scheduler, by where they are."""
    w = m.workload()
    tmpl = w["spec"]["template"]
    pick = lambda d: {k: v for k, v in (d or {}).items() if "volcano.sh" in k or k.startswith("scheduling.x-k8s.io")}
    return {"workload": pick(w["metadata"].get("annotations")), "pod annotations": pick(tmpl["metadata"].get("annotations")),
            "pod labels": pick(tmpl["metadata"]["labels"]), "scheduler": tmpl["spec"].get("schedulerName"),
            "scheduling group": tmpl["spec"].get("schedulingGroup")}


NO_GANG = {"workload": {}, "pod annotations": {}, "pod labels": {}, "scheduler": None, "scheduling group": None}


@pytest.mark.parametrize("values", WORKLOADS.values(), ids=WORKLOADS.keys())
def test_should_hand_the_ranks_to_volcano_as_one_gang_when_volcano_is_served(render, values):
    m = render(merge(values, VOLCANO), args=VOLCANO_API)
    assert gang_keys(m) == {"workload": {"scheduling.volcano.sh/group-min-member": "3"},
                            "pod annotations": {"scheduling.volcano.sh/queue-name": "training"},
                            "pod labels": {}, "scheduler": "volcano", "scheduling group": None}
    assert m.find("PodGroup") is None  # Volcano's controller makes it


def test_should_use_volcanos_default_queue_and_a_named_scheduler(render):
    values = merge(distributed(5), VOLCANO, {"gangScheduling": {"volcano": {"queue": ""}}, "schedulerName": "vc-ml"})
    assert gang_keys(render(values, args=VOLCANO_API)) == {
        "workload": {"scheduling.volcano.sh/group-min-member": "5"}, "pod annotations": {}, "pod labels": {},
        "scheduler": "vc-ml", "scheduling group": None}


@pytest.mark.parametrize("values", WORKLOADS.values(), ids=WORKLOADS.keys())
def test_should_label_the_pods_with_their_coscheduling_pod_group(render, values):
    m = render(merge(values, COSCHEDULING), args=COSCHEDULING_API)
    assert gang_keys(m) == {**NO_GANG, "pod labels": {"scheduling.x-k8s.io/pod-group": "rel-pytorch"}}


@pytest.mark.parametrize("values", WORKLOADS.values(), ids=WORKLOADS.keys())
def test_should_name_the_kubernetes_pod_group_in_the_pod_spec(render, values):
    """Kubernetes' own gang: kube-scheduler reads the group from spec.schedulingGroup; no label,
    annotation or scheduler of the other providers."""
    m = render(merge(values, KUBERNETES), args=KUBERNETES_API)
    assert gang_keys(m) == {**NO_GANG, "scheduling group": {"podGroupName": "rel-pytorch"}}


@pytest.mark.parametrize("gang,api", [(VOLCANO, COSCHEDULING_API), (COSCHEDULING, VOLCANO_API), (VOLCANO, ()),
                                      (KUBERNETES, (*VOLCANO_API, *COSCHEDULING_API)), (KUBERNETES, ())],
                         ids=["volcano-not-served", "coscheduling-not-served", "no-api", "kubernetes-not-served",
                              "kubernetes-no-api"])
def test_should_render_no_gang_when_the_cluster_does_not_serve_the_providers_api(render, gang, api):
    m = render(merge(distributed(3), gang), args=api)
    assert gang_keys(m) == NO_GANG
    assert m.find("PodGroup") is None


def test_should_render_no_kubernetes_gang_in_an_indexed_job_on_a_cluster_without_its_api(render):
    m = render(merge(WORKLOADS["Indexed Job"], KUBERNETES), args=("--kube-version", "1.37.0"))
    assert gang_keys(m) == NO_GANG and m.find("PodGroup") is None


@pytest.mark.parametrize("gang,expected", [
    (VOLCANO, {**NO_GANG, "workload": {"scheduling.volcano.sh/group-min-member": "3"},
               "pod annotations": {"scheduling.volcano.sh/queue-name": "training"}, "scheduler": "volcano"}),
    (COSCHEDULING, {**NO_GANG, "pod labels": {"scheduling.x-k8s.io/pod-group": "rel-pytorch"}}),
    (KUBERNETES, {**NO_GANG, "scheduling group": {"podGroupName": "rel-pytorch"}}),
], ids=["volcano", "coscheduling", "kubernetes"])
def test_should_render_the_gang_without_the_api_when_forced(render, gang, expected):
    assert gang_keys(render(merge(distributed(3), gang, {"gangScheduling": {"force": True}}))) == expected


def test_should_render_no_gang_when_disabled_even_if_served(render):
    values = merge(distributed(3), VOLCANO, {"gangScheduling": {"enabled": False, "force": True}})
    assert gang_keys(render(values, args=VOLCANO_API)) == NO_GANG


def test_should_refuse_a_gang_in_standalone_mode(render_error):
    assert "gangScheduling.enabled: a gang needs mode=distributed" in render_error(VOLCANO)


def test_should_refuse_an_unknown_provider(render_error):
    err = render_error(merge(distributed(2), {"gangScheduling": {"enabled": True, "provider": "yunikorn"}}))
    assert "at '/gangScheduling/provider': value must be one of 'volcano', 'coscheduling', 'kubernetes'" in err


def test_should_fail_in_the_api_helper_for_a_provider_the_schema_would_refuse(tmp_path_factory, render_error):
    probe = '{{ include "pytorch.gang.api" (dict "Values" (dict "gangScheduling" (dict "provider" "yunikorn"))) }}'
    chart = chart_copy(tmp_path_factory.mktemp("probe"), {"templates/probe.yaml": probe})
    err = render_error(None, chart=chart)
    assert 'pytorch.gang.api: gangScheduling.provider must be volcano, coscheduling or kubernetes, got "yunikorn"' in err


@pytest.mark.parametrize("values", WORKLOADS.values(), ids=WORKLOADS.keys())
def test_should_count_pods_not_processes_in_the_volcano_gang(render, values):
    """torchrun runs several processes in each pod; the gang is made of pods."""
    m = render(merge(values, CODE, VOLCANO, {"launcher": "torchrun", "torchrun": {"nprocPerNode": 4}}), args=VOLCANO_API)
    assert m.workload()["metadata"]["annotations"]["scheduling.volcano.sh/group-min-member"] == "3"
