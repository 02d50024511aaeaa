"""templates/deployment.yaml: standalone mode."""
import pytest

from harness.presets import merge


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


# The strategy for each access mode the schema allows: a claim that one node at a time can
# attach (ReadWriteOnce, ReadWriteOncePod) needs the old pod gone first.
DATA_MODES = {"ReadWriteOnce": "Recreate", "ReadWriteOncePod": "Recreate", "ReadWriteMany": None,
              "ReadOnlyMany": "Recreate"}
CHECKPOINT_MODES = {"ReadWriteOnce": "Recreate", "ReadWriteOncePod": "Recreate", "ReadWriteMany": None}


@pytest.mark.parametrize("mode", DATA_MODES)
def test_should_choose_the_strategy_by_the_data_claims_access_mode(render, mode):
    spec = render({"persistence": {"accessMode": mode}})["Deployment"]["spec"]
    assert spec.get("strategy", {}).get("type") == DATA_MODES[mode]


@pytest.mark.parametrize("mode", CHECKPOINT_MODES)
@pytest.mark.parametrize("data", [{"persistence": {"enabled": False}}, {"persistence": {"accessMode": "ReadWriteMany"}}],
                         ids=["no-data-claim", "shared-data-claim"])
def test_should_choose_the_strategy_by_the_checkpoint_claims_access_mode(render, mode, data):
    spec = render(merge(data, {"checkpoint": {"persistence": {"enabled": True, "accessMode": mode}}}))["Deployment"]["spec"]
    assert spec.get("strategy", {}).get("type") == CHECKPOINT_MODES[mode]


def test_should_accept_worldsize_one_in_standalone_mode(render):
    assert render(None, "worldSize=1").env()["WORLD_SIZE"] == "1"
