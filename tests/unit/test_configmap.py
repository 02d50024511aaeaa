"""templates/configmap.yaml: the ConfigMap of the chart's files (files/*, and files/examples/*
with examples.enabled)."""


def test_should_render_no_configmap_without_chart_files(default):
    assert default.find("ConfigMap") is None


def test_should_turn_files_directory_into_configmap(render, chart_with_files):
    m = render(None, chart=chart_with_files)
    cm = m.get("ConfigMap", "rel-pytorch-files")
    assert cm["data"] == {"train.py": "print('training')\n", "config.yaml": "lr: 0.1\n"}
    assert m.volumes()["files"]["configMap"]["name"] == "rel-pytorch-files"


def test_should_load_example_only_when_examples_enabled(render):
    m = render({"examples": {"enabled": True}})
    cm = m.get("ConfigMap", "rel-pytorch-files")
    assert "ddp_train.py" in cm["data"] and "init_process_group" in cm["data"]["ddp_train.py"]
    assert m.container()["command"] == ["python", "/app/ddp_train.py"]


def test_should_load_files_next_to_examples(render, chart_with_files):
    cm = render({"examples": {"enabled": True}}, chart=chart_with_files).get("ConfigMap", "rel-pytorch-files")
    assert set(cm["data"]) == {"train.py", "config.yaml", "ddp_train.py"}


def test_should_render_no_configmap_for_an_existing_one(render, chart_with_files):
    assert render({"configMap": "my-files"}, chart=chart_with_files).find("ConfigMap") is None
