"""templates/networkpolicy.yaml: on by default; the release's pods accept any TCP from each other
and reach DNS."""
import pytest

from harness.presets import CODE, GIT, JOB, PERMISSIONS, SHARED_CLAIM, TORCHRUN, distributed, merge

SELECTOR = {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}
RANKS = {"podSelector": {"matchLabels": SELECTOR}}
FROM_RANKS = {"from": [RANKS], "ports": [{"protocol": "TCP"}]}
DNS = {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
TO_RANKS = {"to": [RANKS], "ports": [{"protocol": "TCP"}]}
CLOSED = {"networkPolicy": {"allowExternal": False, "allowExternalEgress": False}}

SCENARIOS = {
    "standalone": {}, "distributed": distributed(4), "job": merge(CODE, JOB),
    "indexed-job": merge(distributed(4), CODE, JOB, SHARED_CLAIM),
    "torchrun": merge(distributed(2), CODE, TORCHRUN), "git": GIT, "volume-permissions": PERMISSIONS,
    "metrics-tensorboard": {"metrics": {"enabled": True}, "tensorboard": {"enabled": True}},
    "closed": merge(distributed(2), CLOSED),
}


def policy(m) -> dict:
    return m.get("NetworkPolicy", "rel-pytorch")


def test_should_let_ranks_talk_on_any_tcp_port_and_allow_any_egress_by_default(default):
    np = policy(default)
    assert np["metadata"]["labels"]["app.kubernetes.io/instance"] == "rel"
    assert np["spec"] == {
        "podSelector": {"matchLabels": SELECTOR},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [FROM_RANKS, {"ports": [{"port": 49875, "protocol": "TCP"}]}],
        "egress": [{}],
    }


def test_should_allow_only_labelled_clients_dns_and_ranks_when_closed(render):
    np = policy(render(merge(distributed(2), CLOSED, {"port": 29500})))
    assert np["spec"]["ingress"] == [FROM_RANKS, {"ports": [{"port": 29500, "protocol": "TCP"}],
                                                  "from": [{"podSelector": {"matchLabels": {"rel-pytorch-client": "true"}}}]}]
    assert np["spec"]["egress"] == [DNS, TO_RANKS]


def test_should_open_the_metrics_and_tensorboard_ports(render):
    np = policy(render({"metrics": {"enabled": True, "port": 9100}, "tensorboard": {"enabled": True, "port": 6007}}))
    assert np["spec"]["ingress"][1] == {"ports": [{"port": 49875, "protocol": "TCP"}, {"port": 9100, "protocol": "TCP"},
                                                  {"port": 6007, "protocol": "TCP"}]}


@pytest.mark.parametrize("features,ports", [
    ({"metrics": {"enabled": True, "port": 9100}, "tensorboard": {"port": 6007}}, [49875, 9100]),
    ({"metrics": {"port": 9100}, "tensorboard": {"enabled": True, "port": 6007}}, [49875, 6007]),
    ({"metrics": {"port": 9100}, "tensorboard": {"port": 6007}}, [49875]),
], ids=["metrics-only", "tensorboard-only", "neither"])
def test_should_open_each_port_only_with_its_own_feature(render, features, ports):
    np = policy(render(features))
    assert np["spec"]["ingress"][1]["ports"] == [{"port": p, "protocol": "TCP"} for p in ports]


def test_should_append_extra_rules_rendered_as_templates(render):
    ingress = [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                "ports": [{"port": 9400, "protocol": "TCP"}]}]
    egress = [{"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "{{ .Release.Name }}-proxy"}}}],
               "ports": [{"port": 3128, "protocol": "TCP"}]}]
    np = policy(render(merge(CLOSED, {"networkPolicy": {"extraIngress": ingress, "extraEgress": egress}})))
    assert np["spec"]["ingress"][2:] == ingress
    assert np["spec"]["egress"] == [DNS, TO_RANKS, {
        "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "rel-proxy"}}}],
        "ports": [{"port": 3128, "protocol": "TCP"}]}]


def test_should_ignore_extra_egress_when_all_egress_is_allowed(render):
    np = policy(render({"networkPolicy": {"extraEgress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}}))
    assert np["spec"]["egress"] == [{}]


def test_should_render_no_network_policy_when_disabled(render):
    assert render({"networkPolicy": {"enabled": False}}).find("NetworkPolicy") is None


@pytest.mark.parametrize("values", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_should_select_every_pod_of_the_release_in_every_scenario(render, values):
    """render() validates the policy against the Kubernetes schema; its selector matches the
    pods of the workload and of the helm test, and its rank-to-rank rules name the same pods."""
    m = render(values, show_tests=True)
    np = policy(m)
    selector = np["spec"]["podSelector"]["matchLabels"]
    for obj in m:
        if obj["kind"] in ("Deployment", "StatefulSet", "Job", "Pod"):
            labels = (obj["spec"]["template"]["metadata"] if obj["kind"] != "Pod" else obj["metadata"])["labels"]
            assert selector.items() <= labels.items(), obj["kind"]
    assert np["spec"]["ingress"][0] == FROM_RANKS
