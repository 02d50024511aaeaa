"""templates/service-headless.yaml: the headless Service that gives rank 0 (or, when asked,
every rank) a stable DNS name in distributed mode."""
import pytest

from harness.presets import CODE, JOB, SHARED_CLAIM, distributed, merge

SELECTOR = {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}
PORTS = [{"name": "dist", "port": 23456, "targetPort": "dist", "protocol": "TCP"}]
ALL_RANKS = {"headlessService": {"allRanks": True}}


def test_should_not_render_headless_service_in_standalone_mode(default):
    assert default.find("Service", "rel-pytorch-headless") is None


@pytest.mark.parametrize("values,kind,rank_label", [
    ({}, "StatefulSet", "apps.kubernetes.io/pod-index"),
    (merge(CODE, JOB, SHARED_CLAIM), "Job", "batch.kubernetes.io/job-completion-index"),
], ids=["statefulset", "indexed-job"])
def test_should_publish_only_rank_0_by_default(render, values, kind, rank_label):
    """Rank 0's name is MASTER_ADDR, all the rendezvous needs; the Service's EndpointSlices then
    change when rank 0 does, not with every rank (docs/bench.md, "Where the requests go")."""
    m = render(merge(distributed(6), {"port": 23456}, values))
    svc = m.get("Service", "rel-pytorch-headless")
    assert svc["spec"] == {"clusterIP": "None", "publishNotReadyAddresses": True, "ports": PORTS,
                           "selector": {**SELECTOR, rank_label: "0"}}
    assert SELECTOR.items() <= m[kind]["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("values,kind", [({}, "StatefulSet"), (merge(CODE, JOB, SHARED_CLAIM), "Job")],
                         ids=["statefulset", "indexed-job"])
def test_should_publish_every_rank_when_asked(render, values, kind):
    """headlessService.allRanks=true: every rank's <pod>.<fullname>-headless name, as before."""
    m = render(merge(distributed(6), {"port": 23456}, ALL_RANKS, values))
    svc = m.get("Service", "rel-pytorch-headless")
    assert svc["spec"] == {"clusterIP": "None", "publishNotReadyAddresses": True, "ports": PORTS,
                           "selector": SELECTOR}
    assert SELECTOR.items() <= m[kind]["spec"]["template"]["metadata"]["labels"].items()


def test_should_keep_headless_service_headless_whatever_service_type(render):
    m = render(merge({"service": {"type": "NodePort"}}, distributed(2)))
    assert m.get("Service", "rel-pytorch-headless")["spec"].get("type", "ClusterIP") == "ClusterIP"


def test_should_not_render_headless_service_in_standalone_mode_even_for_every_rank(render):
    assert render(ALL_RANKS).find("Service", "rel-pytorch-headless") is None
