"""templates/tests/test-preflight-configmap.yaml: the preflight program, shipped to its hook pod."""
from harness.presets import distributed
from harness.tools import CHART

NAME = "rel-pytorch-preflight"


def test_should_ship_the_program_file_byte_for_byte_in_distributed_mode(render):
    cm = render(distributed(3), show_tests=True).get("ConfigMap", NAME)
    assert cm["data"] == {"preflight.py": (CHART / "files" / "tests" / "preflight.py").read_text()}


def test_should_exist_before_the_pod_as_a_test_hook(render):
    cm = render(distributed(3), show_tests=True).get("ConfigMap", NAME)
    assert cm["metadata"]["annotations"] == {"helm.sh/hook": "test", "helm.sh/hook-weight": "-1",
                                             "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}


def test_should_not_render_the_program_in_standalone_mode_nor_with_the_release(render):
    assert render({}, show_tests=True).find("ConfigMap", NAME) is None
    assert render(distributed(3)).find("ConfigMap", NAME) is None


def test_should_not_load_the_program_into_the_files_mounted_at_app(render):
    """files/tests/ is the chart's own: the user files ConfigMap takes top-level files only."""
    m = render({"examples": {"enabled": True}, **distributed(3)})
    assert sorted(m.get("ConfigMap", "rel-pytorch-files")["data"]) == ["ddp_train.py"]
