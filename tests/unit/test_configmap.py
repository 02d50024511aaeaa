"""templates/configmap.yaml and the priority of file sources: configMap > files/ > git."""
import shutil

import pytest

from harness.tools import CHART

GIT = {"cloneFilesFromGit": {"enabled": True, "repository": "https://git.example.org/ml.git"}}


@pytest.fixture(scope="module")
def chart_with_files(tmp_path_factory):
    """A copy of the chart with a user's files dropped into files/, as the README says."""
    chart = tmp_path_factory.mktemp("chart") / "pytorch"
    shutil.copytree(CHART, chart, ignore=shutil.ignore_patterns(".git", ".venv", "bin", ".cache", "tests", "dist"))
    (chart / "files").mkdir(exist_ok=True)
    (chart / "files" / "train.py").write_text("print('training')\n")
    (chart / "files" / "config.yaml").write_text("lr: 0.1\n")
    return chart


def source_of(m):
    files = m.volumes().get("files")
    if files is None:
        return None
    if "configMap" in files:
        return files["configMap"]["name"]
    return "git" if m.init_container("git-clone") else "emptyDir?"


def test_should_load_no_files_by_default(default):
    assert default.find("ConfigMap") is None
    assert "files" not in default.volumes()
    assert "/app" not in default.mounts()
    assert "workingDir" not in default.container()


def test_should_turn_files_directory_into_configmap_mounted_at_app(render, chart_with_files):
    m = render(None, chart=chart_with_files)
    cm = m.get("ConfigMap", "rel-pytorch-files")
    assert cm["data"] == {"train.py": "print('training')\n", "config.yaml": "lr: 0.1\n"}
    assert source_of(m) == "rel-pytorch-files"
    assert m.mounts()["/app"]["name"] == "files"
    assert m.container()["workingDir"] == "/app"


def test_should_roll_pods_when_files_change(render, chart_with_files):
    annotations = render(None, chart=chart_with_files).workload()["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["checksum/files"]) == 64


def test_should_load_example_only_when_examples_enabled(render):
    m = render({"examples": {"enabled": True}})
    cm = m.get("ConfigMap", "rel-pytorch-files")
    assert "ddp_train.py" in cm["data"] and "init_process_group" in cm["data"]["ddp_train.py"]
    assert m.container()["command"] == ["python", "/app/ddp_train.py"]


def test_should_prefer_existing_configmap_over_files_and_git(render, chart_with_files):
    m = render({"configMap": "my-files", **GIT}, chart=chart_with_files)
    assert m.find("ConfigMap") is None
    assert source_of(m) == "my-files"
    assert m.init_container("git-clone") is None


def test_should_prefer_files_directory_over_git(render, chart_with_files):
    m = render(GIT, chart=chart_with_files)
    assert source_of(m) == "rel-pytorch-files"
    assert m.init_container("git-clone") is None


def test_should_clone_git_when_no_other_source(render):
    m = render(GIT)
    assert m.find("ConfigMap") is None
    assert source_of(m) == "git"
    assert m.volumes()["files"] == {"name": "files", "emptyDir": {}}


def test_should_render_configmap_name_as_template(render):
    m = render({"configMap": "{{ .Release.Name }}-code"})
    assert m.volumes()["files"]["configMap"]["name"] == "rel-code"


@pytest.mark.parametrize("sets", [(), ("mode=distributed", "worldSize=2")], ids=["standalone", "distributed"])
def test_should_mount_the_same_files_in_every_mode(render, chart_with_files, sets):
    m = render(None, *sets, chart=chart_with_files)
    assert m.mounts()["/app"]["name"] == "files"
