"""templates/_names.tpl: resource names."""
import pytest


def names(m):
    return {(o["kind"], o["metadata"]["name"]) for o in m}


def test_should_prefix_every_resource_with_release_and_chart_name(default):
    assert {n for _, n in names(default)} == {"rel-pytorch"}


def test_should_use_release_name_alone_when_it_contains_the_chart_name(render):
    m = render(release="my-pytorch")
    assert m.workload()["metadata"]["name"] == "my-pytorch"


def test_should_replace_chart_name_with_name_override(render):
    m = render({"nameOverride": "trainer"})
    assert m.workload()["metadata"]["name"] == "rel-trainer"
    assert m.workload()["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "trainer"


def test_should_replace_whole_prefix_with_fullname_override(render):
    m = render({"fullnameOverride": "resnet"})
    assert {n for _, n in names(m)} == {"resnet"}


@pytest.mark.parametrize("mode_sets", [(), ("mode=distributed", "worldSize=2")])
def test_should_truncate_long_names_so_pod_names_stay_dns_labels(render, mode_sets):
    long = "x" * 63
    m = render({"fullnameOverride": long}, *mode_sets)
    name = m.workload()["metadata"]["name"]
    assert name == "x" * 52
    for svc in m.all("Service"):
        assert len(svc["metadata"]["name"]) <= 63
    # <statefulset>-<ordinal> and the controller-revision-hash label (<name>-<10 chars>) fit.
    assert len(f"{name}-9999") <= 63 and len(f"{name}-abcdefghij") <= 63


def test_should_name_headless_service_after_fullname(distributed):
    assert distributed.get("Service", "rel-pytorch-headless")["spec"]["clusterIP"] == "None"
