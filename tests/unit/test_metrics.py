"""templates/_metrics.tpl: the named metrics port, METRICS_PORT and METRICS_PATH."""
import pytest

from harness.presets import MODES, merge


@pytest.mark.parametrize("values", MODES.values(), ids=MODES.keys())
def test_should_expose_a_named_metrics_port_and_tell_the_script(render, values):
    m = render(merge(values, {"metrics": {"enabled": True, "port": 8000, "path": "/prom"}}))
    assert m.container()["ports"] == [{"name": "dist", "containerPort": 49875, "protocol": "TCP"},
                                      {"name": "metrics", "containerPort": 8000, "protocol": "TCP"}]
    assert (m.env()["METRICS_PORT"], m.env()["METRICS_PATH"]) == ("8000", "/prom")


def test_should_expose_no_metrics_port_by_default(default):
    assert [p["name"] for p in default.container()["ports"]] == ["dist"]
    assert not {"METRICS_PORT", "METRICS_PATH"} & set(default.env())


@pytest.mark.parametrize("values,message", [
    ({"metrics": {"enabled": True, "port": 49875}}, "metrics.port and port: both are 49875"),
    ({"metrics": {"enabled": True, "port": 7000}, "tensorboard": {"enabled": True, "port": 7000}},
     "metrics.port and tensorboard.port: both are 7000"),
    ({"tensorboard": {"enabled": True, "port": 49875}}, "port and tensorboard.port: both are 49875"),
])
def test_should_refuse_two_ports_with_one_number(render_error, values, message):
    assert message in render_error(values)


def test_should_allow_a_disabled_feature_to_keep_a_clashing_port(render):
    assert [p["name"] for p in render({"metrics": {"port": 49875}, "tensorboard": {"port": 49875}}).container()["ports"]] == ["dist"]
