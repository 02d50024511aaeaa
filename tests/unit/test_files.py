"""templates/_files.tpl: where the files mounted at /app come from, in the documented priority:
an existing ConfigMap (configMap), then the chart's files/ folder, then a git clone."""
import pytest

from harness.presets import GIT, MODES


def source_of(m):
    files = m.volumes().get("files")
    if files is None:
        return None
    if "configMap" in files:
        return files["configMap"]["name"]
    return "git" if m.init_container("git-clone") else "emptyDir?"


def test_should_load_no_files_by_default(default):
    assert default.find("ConfigMap") is None
    assert source_of(default) is None
    assert "/app" not in default.mounts()
    assert "workingDir" not in default.container()


def test_should_mount_files_directory_at_app_as_working_directory(render, chart_with_files):
    m = render(None, chart=chart_with_files)
    assert source_of(m) == "rel-pytorch-files"
    assert m.mounts()["/app"]["name"] == "files"
    assert m.container()["workingDir"] == "/app"


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


@pytest.mark.parametrize("mode", MODES)
def test_should_mount_the_same_files_in_every_mode(render, chart_with_files, mode):
    m = render(MODES[mode], chart=chart_with_files)
    assert m.mounts()["/app"]["name"] == "files"
