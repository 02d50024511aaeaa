"""The PyTorch container's environment (image.debug, extraEnvVars, distributed variables)."""
import pytest

DEBUG = {"TORCH_DISTRIBUTED_DEBUG": "DETAIL", "TORCH_CPP_LOG_LEVEL": "INFO", "NCCL_DEBUG": "INFO",
         "LOGLEVEL": "DEBUG", "PYTHONFAULTHANDLER": "1"}


def test_should_set_torch_distributed_variables(default, distributed):
    for m in (default, distributed):
        assert {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT", "POD_NAME", "POD_NAMESPACE"} <= m.env().keys()


def test_should_not_turn_on_debug_output_by_default(default):
    assert not DEBUG.keys() & default.env().keys()


@pytest.mark.parametrize("sets", [(), ("mode=distributed", "worldSize=2")], ids=["standalone", "distributed"])
def test_should_turn_on_pytorch_and_nccl_debug_output(render, sets):
    env = render({"image": {"debug": True}}, *sets).env()
    assert DEBUG.items() <= env.items()


def test_should_append_extra_env_vars_rendered_as_templates(render):
    extra = [{"name": "NCCL_SOCKET_IFNAME", "value": "eth0"}, {"name": "RUN", "value": "{{ .Release.Name }}"},
             {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}]
    env = render({"extraEnvVars": extra}).env()
    assert env["NCCL_SOCKET_IFNAME"] == "eth0" and env["RUN"] == "rel"
    assert env["TOKEN"] == {"secretKeyRef": {"name": "hf", "key": "token"}}


def test_should_accept_extra_env_vars_as_a_template_string(render):
    env = render({"extraEnvVars": "- name: RELEASE\n  value: {{ .Release.Name }}\n"}).env()
    assert env["RELEASE"] == "rel"
