"""templates/_placement.tpl: schedulerName, terminationGracePeriodSeconds,
topologySpreadConstraints and the exclusive-topology affinity terms."""
import pytest

from harness.presets import CODE, JOB, MODES, SHARED_CLAIM, distributed, merge

SELECTOR = {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}
RACK = "topology.example.com/rack"
SAME_RACK = {"labelSelector": {"matchLabels": SELECTOR}, "topologyKey": RACK}
NO_OTHER_RELEASE = {"labelSelector": {"matchExpressions": [
    {"key": "app.kubernetes.io/name", "operator": "In", "values": ["pytorch"]},
    {"key": "app.kubernetes.io/instance", "operator": "NotIn", "values": ["rel"]}]}, "topologyKey": RACK}
SOFT_SPREAD = {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {
    "labelSelector": {"matchLabels": SELECTOR}, "topologyKey": "kubernetes.io/hostname"}}]}
EXCLUSIVE = {"exclusiveTopology": {"enabled": True, "topologyKey": RACK}}
WORKLOADS = {"deployment": {}, "statefulset": distributed(3), "job": merge(CODE, JOB),
             "indexed-job": merge(distributed(3), CODE, JOB, SHARED_CLAIM)}


@pytest.mark.parametrize("values", MODES.values(), ids=MODES.keys())
def test_should_leave_scheduler_grace_period_and_spread_to_kubernetes_by_default(render, values):
    spec = render(values).pod_spec()
    assert not {"schedulerName", "terminationGracePeriodSeconds", "topologySpreadConstraints"} & spec.keys()


SPREAD = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
           "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "{{ .Release.Name }}"}}}]
PLACED = {"schedulerName": "scheduler-plugins-scheduler", "terminationGracePeriodSeconds": 300,
          "topologySpreadConstraints": SPREAD, **EXCLUSIVE}


@pytest.mark.parametrize("values", WORKLOADS.values(), ids=WORKLOADS.keys())
def test_should_place_every_workloads_pods(render, values):
    """schedulerName, terminationGracePeriodSeconds, topologySpreadConstraints (as a template),
    and exclusiveTopology: every rank in one rack, and other releases of the chart out of it."""
    spec = render(merge(values, PLACED)).pod_spec()
    assert spec["schedulerName"] == "scheduler-plugins-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 300
    assert spec["topologySpreadConstraints"] == [
        {**SPREAD[0], "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "rel"}}}]
    assert spec["affinity"] == {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [SAME_RACK]},
        "podAntiAffinity": {**SOFT_SPREAD, "requiredDuringSchedulingIgnoredDuringExecution": [NO_OTHER_RELEASE]},
    }


def test_should_keep_a_grace_period_of_zero(render):
    assert render({"terminationGracePeriodSeconds": 0}).pod_spec()["terminationGracePeriodSeconds"] == 0


def test_should_add_the_exclusive_terms_to_hard_presets(render):
    values = merge(distributed(2), EXCLUSIVE, {"podAffinityPreset": "hard", "podAntiAffinityPreset": ""})
    on_one_node = {"labelSelector": {"matchLabels": SELECTOR}, "topologyKey": "kubernetes.io/hostname"}
    assert render(values).pod_spec()["affinity"] == {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [on_one_node, SAME_RACK]},
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [NO_OTHER_RELEASE]},
    }


def test_should_name_the_release_and_chart_name_in_the_exclusive_terms(render):
    values = merge(distributed(2), {"exclusiveTopology": {"enabled": True}, "nameOverride": "trainer"})
    affinity = render(values, release="other").pod_spec()["affinity"]
    zone = "topology.kubernetes.io/zone"
    assert affinity["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == [{"labelSelector": {
        "matchLabels": {"app.kubernetes.io/name": "trainer", "app.kubernetes.io/instance": "other"}}, "topologyKey": zone}]
    assert affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == [{"labelSelector": {
        "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["trainer"]},
                             {"key": "app.kubernetes.io/instance", "operator": "NotIn", "values": ["other"]}]},
        "topologyKey": zone}]


def test_should_render_no_exclusive_terms_when_disabled(render):
    values = merge(distributed(2), {"exclusiveTopology": {"enabled": False, "topologyKey": RACK}})
    assert render(values).pod_spec()["affinity"] == {"podAntiAffinity": SOFT_SPREAD}


def test_should_refuse_exclusive_topology_with_affinity(render_error):
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}]}]}}}
    err = render_error(merge(distributed(2), EXCLUSIVE, {"affinity": affinity}))
    assert "exclusiveTopology.enabled: affinity replaces every affinity the chart renders" in err
