"""Liveness and readiness probes (livenessProbe.*, readinessProbe.*, custom*Probe)."""
import pytest

PROBES = ["livenessProbe", "readinessProbe"]
CUSTOM = {"livenessProbe": "customLivenessProbe", "readinessProbe": "customReadinessProbe"}


@pytest.mark.parametrize("probe", PROBES)
def test_should_check_torch_is_installed_by_default(default, probe):
    p = default.container()[probe]
    assert p["exec"]["command"][:2] == ["python", "-c"] and "find_spec('torch')" in p["exec"]["command"][2]
    assert "import torch" not in p["exec"]["command"][2]


def test_should_use_documented_default_timings(default):
    c = default.container()
    assert {k: v for k, v in c["livenessProbe"].items() if k != "exec"} == {
        "initialDelaySeconds": 5, "periodSeconds": 5, "timeoutSeconds": 5, "successThreshold": 1, "failureThreshold": 5}
    assert {k: v for k, v in c["readinessProbe"].items() if k != "exec"} == {
        "initialDelaySeconds": 5, "periodSeconds": 5, "timeoutSeconds": 5, "successThreshold": 1, "failureThreshold": 5}


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("field,value", [("initialDelaySeconds", 30), ("periodSeconds", 17), ("timeoutSeconds", 9),
                                         ("failureThreshold", 11)])
def test_should_pass_each_probe_field(render, probe, field, value):
    assert render({probe: {field: value}}).container()[probe][field] == value


def test_should_pass_readiness_success_threshold(render):
    assert render({"readinessProbe": {"successThreshold": 3}}).container()["readinessProbe"]["successThreshold"] == 3


@pytest.mark.parametrize("probe", PROBES)
def test_should_drop_disabled_probe(render, probe):
    c = render({probe: {"enabled": False}}).container()
    assert probe not in c and (set(PROBES) - {probe}) <= c.keys()


@pytest.mark.parametrize("probe", PROBES)
def test_should_replace_probe_with_custom_probe(render, probe):
    custom = {"tcpSocket": {"port": "dist"}, "periodSeconds": 20}
    assert render({CUSTOM[probe]: custom}).container()[probe] == custom
