"""templates/_affinities.tpl: pod (anti-)affinity and node affinity presets, and `affinity`."""
import pytest

SELECTOR = {"matchLabels": {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}}
TERM = {"labelSelector": SELECTOR, "topologyKey": "kubernetes.io/hostname"}
NONE = {"podAffinityPreset": "", "podAntiAffinityPreset": ""}


def test_should_spread_pods_softly_across_nodes_by_default(default):
    assert default.pod_spec()["affinity"] == {"podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": TERM}]}}


def test_should_render_no_affinity_when_presets_are_empty(render):
    assert "affinity" not in render(NONE).pod_spec()


@pytest.mark.parametrize("key,field", [("podAffinityPreset", "podAffinity"), ("podAntiAffinityPreset", "podAntiAffinity")])
def test_should_render_soft_pod_presets(render, key, field):
    aff = render({**NONE, key: "soft"}).pod_spec()["affinity"]
    assert aff == {field: {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": TERM}]}}


@pytest.mark.parametrize("key,field", [("podAffinityPreset", "podAffinity"), ("podAntiAffinityPreset", "podAntiAffinity")])
def test_should_render_hard_pod_presets(render, key, field):
    aff = render({**NONE, key: "hard"}).pod_spec()["affinity"]
    assert aff == {field: {"requiredDuringSchedulingIgnoredDuringExecution": [TERM]}}


def test_should_render_soft_node_preset(render):
    aff = render({**NONE, "nodeAffinityPreset": {"type": "soft", "key": "gpu", "values": ["a100", "h100"]}}).pod_spec()["affinity"]
    assert aff == {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "gpu", "operator": "In", "values": ["a100", "h100"]}]}}]}}


def test_should_render_hard_node_preset(render):
    aff = render({**NONE, "nodeAffinityPreset": {"type": "hard", "key": "gpu", "values": ["h100"]}}).pod_spec()["affinity"]
    assert aff == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "gpu", "operator": "In", "values": ["h100"]}]}]}}}


def test_should_let_affinity_override_every_preset(render):
    custom = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["{{ .Release.Name }}"]}]}]}}}
    aff = render({"affinity": custom, "podAffinityPreset": "hard",
                  "nodeAffinityPreset": {"type": "soft", "key": "x", "values": ["y"]}}).pod_spec()["affinity"]
    assert list(aff) == ["nodeAffinity"]
    assert aff["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchExpressions"][0]["values"] == ["rel"]


@pytest.mark.parametrize("helper", ["pytorch.affinity.pod", "pytorch.affinity.node"])
def test_should_fail_naming_the_helper_when_type_is_neither_soft_nor_hard(probe, helper):
    # the schema allows only soft and hard, so only a caller can pass another type
    message = probe(f'{{{{ include "{helper}" (dict "type" "medium" "key" "k" "values" (list "v") "context" $) }}}}',
                    error=True)
    assert f'{helper}: type must be soft or hard, got "medium"' in message
