"""templates/service.yaml and templates/service-headless.yaml."""
import pytest


def test_should_expose_standalone_pod_on_port(default):
    svc = default.get("Service", "rel-pytorch")
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "dist", "port": 49875, "targetPort": "dist", "protocol": "TCP"}]
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}


def test_should_not_render_headless_service_in_standalone_mode(default):
    assert default.find("Service", "rel-pytorch-headless") is None


def test_should_send_master_service_traffic_to_rank_zero_only(distributed):
    selector = distributed.get("Service", "rel-pytorch")["spec"]["selector"]
    assert selector["apps.kubernetes.io/pod-index"] == "0"


def test_should_publish_every_rank_in_headless_service(distributed):
    svc = distributed.get("Service", "rel-pytorch-headless")
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["publishNotReadyAddresses"] is True
    assert "apps.kubernetes.io/pod-index" not in svc["spec"]["selector"]
    assert svc["spec"]["selector"].items() <= distributed["StatefulSet"]["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("service_type", ["ClusterIP", "NodePort", "LoadBalancer"])
def test_should_set_master_service_type(render, service_type):
    assert render({"service": {"type": service_type}}).get("Service", "rel-pytorch")["spec"]["type"] == service_type


def test_should_keep_headless_service_headless_whatever_service_type(render):
    m = render({"service": {"type": "NodePort"}}, "mode=distributed", "worldSize=2")
    assert m.get("Service", "rel-pytorch-headless")["spec"].get("type", "ClusterIP") == "ClusterIP"


def test_should_annotate_master_service_only(render):
    m = render({"service": {"annotations": {"lb": "internal"}}}, "mode=distributed", "worldSize=2")
    assert m.get("Service", "rel-pytorch")["metadata"]["annotations"] == {"lb": "internal"}
    assert "annotations" not in m.get("Service", "rel-pytorch-headless")["metadata"]
