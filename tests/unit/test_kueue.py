"""templates/_kueue.tpl: the Kueue labels of the workload object and the topology-aware
scheduling annotations of its pod template."""
import pytest

from harness.presets import CODE, JOB, SHARED_CLAIM, distributed, merge

WORKLOADS = {"Deployment": {}, "StatefulSet": distributed(4), "Job": merge(CODE, JOB),
             "Indexed Job": merge(distributed(4), CODE, JOB, SHARED_CLAIM)}
QUEUED = {"kueue": {"queueName": "team-a", "priorityClass": "high"}}
KUEUE_LABELS = {"kueue.x-k8s.io/queue-name": "team-a", "kueue.x-k8s.io/priority-class": "high"}


@pytest.mark.parametrize("values", WORKLOADS.values(), ids=WORKLOADS.keys())
def test_should_label_the_workload_object_with_queue_and_priority_class(render, values):
    labels = render(merge(values, QUEUED)).workload()["metadata"]["labels"]
    assert KUEUE_LABELS.items() <= labels.items()


@pytest.mark.parametrize("values", WORKLOADS.values(), ids=WORKLOADS.keys())
def test_should_put_kueue_labels_on_no_other_object_and_not_on_the_pods(render, values):
    m = render(merge(values, QUEUED), show_tests=True)
    workload = m.workload()
    others = [o for o in m if o is not workload]
    assert {o["kind"] for o in others} >= {"Pod", "Service", "ServiceAccount", "NetworkPolicy"}
    for obj in others:
        assert not KUEUE_LABELS.keys() & obj["metadata"].get("labels", {}).keys(), obj["kind"]
    [test_pod] = m.all("Pod")   # the helm test hook: the master-address check or the preflight
    assert not any(k.startswith("kueue.x-k8s.io/") for k in test_pod["metadata"]["labels"])
    assert not KUEUE_LABELS.keys() & workload["spec"]["template"]["metadata"]["labels"].keys()


def test_should_queue_without_a_priority_class(render):
    labels = render({"kueue": {"queueName": "team-b"}}).workload()["metadata"]["labels"]
    assert labels["kueue.x-k8s.io/queue-name"] == "team-b" and "kueue.x-k8s.io/priority-class" not in labels


@pytest.mark.parametrize("values", WORKLOADS.values(), ids=WORKLOADS.keys())
def test_should_render_no_kueue_label_or_annotation_by_default(render, values):
    m = render(values, show_tests=True)
    for obj in m:
        meta = [obj["metadata"]] + ([obj["spec"]["template"]["metadata"]] if "template" in obj.get("spec", {}) else [])
        for part in meta:
            keys = {*part.get("labels", {}), *part.get("annotations", {})}
            assert not [k for k in keys if k.startswith("kueue.x-k8s.io/")], obj["kind"]


@pytest.mark.parametrize("topology,annotations", [
    ({"required": "cloud.example.com/rack"}, {"kueue.x-k8s.io/podset-required-topology": "cloud.example.com/rack"}),
    ({"preferred": "cloud.example.com/block"}, {"kueue.x-k8s.io/podset-preferred-topology": "cloud.example.com/block"}),
    ({"unconstrained": True}, {"kueue.x-k8s.io/podset-unconstrained-topology": "true"}),
    ({"required": "cloud.example.com/block", "sliceRequired": "cloud.example.com/rack", "sliceSize": 2},
     {"kueue.x-k8s.io/podset-required-topology": "cloud.example.com/block",
      "kueue.x-k8s.io/podset-slice-required-topology": "cloud.example.com/rack", "kueue.x-k8s.io/podset-slice-size": "2"}),
], ids=["required", "preferred", "unconstrained", "slices"])
def test_should_annotate_the_pod_template_for_topology_aware_scheduling(render, topology, annotations):
    m = render(merge(distributed(4), QUEUED, {"kueue": {"topology": topology}}))
    got = m.workload()["spec"]["template"]["metadata"]["annotations"]
    assert {k: v for k, v in got.items() if k.startswith("kueue.x-k8s.io/")} == annotations
    assert not any(k.startswith("kueue.x-k8s.io/podset") for k in m.workload()["metadata"].get("annotations", {}))


@pytest.mark.parametrize("topology,message", [
    ({"required": "a", "preferred": "b"}, "kueue.topology: set one of required, preferred and unconstrained, not required and preferred"),
    ({"preferred": "b", "unconstrained": True}, "not preferred and unconstrained"),
    ({"sliceRequired": "rack"}, "kueue.topology.sliceRequired and kueue.topology.sliceSize: set both or neither"),
    ({"sliceSize": 2}, "kueue.topology.sliceRequired and kueue.topology.sliceSize: set both or neither"),
])
def test_should_refuse_contradicting_topology_values(render_error, topology, message):
    assert message in render_error(merge(distributed(4), {"kueue": {"topology": topology}}))
