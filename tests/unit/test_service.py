"""templates/service.yaml: the master Service (service.*), in front of rank 0."""
import pytest

from harness.presets import distributed, merge


def test_should_expose_standalone_pod_on_port(default):
    svc = default.get("Service", "rel-pytorch")
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "dist", "port": 49875, "targetPort": "dist", "protocol": "TCP"}]
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}


def test_should_send_master_service_traffic_to_rank_zero_only(distributed):
    selector = distributed.get("Service", "rel-pytorch")["spec"]["selector"]
    assert selector["apps.kubernetes.io/pod-index"] == "0"


@pytest.mark.parametrize("service_type", ["ClusterIP", "NodePort", "LoadBalancer"])
def test_should_set_master_service_type(render, service_type):
    assert render({"service": {"type": service_type}}).get("Service", "rel-pytorch")["spec"]["type"] == service_type


def test_should_annotate_master_service_only(render):
    m = render(merge({"service": {"annotations": {"lb": "internal"}}}, distributed(2)))
    assert m.get("Service", "rel-pytorch")["metadata"]["annotations"] == {"lb": "internal"}
    assert "annotations" not in m.get("Service", "rel-pytorch-headless")["metadata"]


def test_should_use_one_port_for_container_services_and_master_port(render):
    m = render(merge({"port": 23456}, distributed(2)))
    assert m.container()["ports"] == [{"name": "dist", "containerPort": 23456, "protocol": "TCP"}]
    assert m.env()["MASTER_PORT"] == "23456"
    for svc in m.all("Service"):
        assert svc["spec"]["ports"][0]["port"] == 23456 and svc["spec"]["ports"][0]["targetPort"] == "dist"
