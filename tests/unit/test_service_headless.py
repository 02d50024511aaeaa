"""templates/service-headless.yaml: the headless Service that gives every rank a stable DNS name
in distributed mode."""
from harness.presets import distributed, merge


def test_should_not_render_headless_service_in_standalone_mode(default):
    assert default.find("Service", "rel-pytorch-headless") is None


def test_should_publish_every_rank_in_headless_service(distributed):
    svc = distributed.get("Service", "rel-pytorch-headless")
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["publishNotReadyAddresses"] is True
    assert "apps.kubernetes.io/pod-index" not in svc["spec"]["selector"]
    assert svc["spec"]["selector"].items() <= distributed["StatefulSet"]["spec"]["template"]["metadata"]["labels"].items()


def test_should_keep_headless_service_headless_whatever_service_type(render):
    m = render(merge({"service": {"type": "NodePort"}}, distributed(2)))
    assert m.get("Service", "rel-pytorch-headless")["spec"].get("type", "ClusterIP") == "ClusterIP"


def test_should_serve_the_dist_port_of_every_rank(distributed):
    assert distributed.get("Service", "rel-pytorch-headless")["spec"]["ports"] == [
        {"name": "dist", "port": 49875, "targetPort": "dist", "protocol": "TCP"}]
