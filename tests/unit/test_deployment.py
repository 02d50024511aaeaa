"""templates/deployment.yaml: standalone mode."""
import pytest


def test_should_render_one_deployment_in_standalone_mode(default):
    assert default.kinds() == ["Deployment", "NetworkPolicy", "PersistentVolumeClaim", "Service", "ServiceAccount"]
    assert default["Deployment"]["spec"]["replicas"] == 1


def test_should_not_render_deployment_in_distributed_mode(distributed):
    assert distributed.find("Deployment") is None


@pytest.mark.parametrize("values,strategy", [
    ({}, "Recreate"),
    ({"persistence": {"accessMode": "ReadWriteOncePod"}}, "Recreate"),
    ({"persistence": {"accessMode": "ReadWriteMany"}}, None),
    ({"persistence": {"enabled": False}}, None),
    ({"persistence": {"enabled": False}, "checkpoint": {"persistence": {"enabled": True, "accessMode": "ReadWriteOnce"}}},
     "Recreate"),
    ({"persistence": {"enabled": False}, "checkpoint": {"persistence": {"enabled": True}}}, None),
])
def test_should_recreate_pod_only_when_its_claim_cannot_be_shared(render, values, strategy):
    spec = render(values)["Deployment"]["spec"]
    assert spec.get("strategy", {}).get("type") == strategy


def test_should_accept_worldsize_one_in_standalone_mode(render):
    assert render(None, "worldSize=1").env()["WORLD_SIZE"] == "1"
