"""The volume-permissions init container (volumePermissions.*)."""
import pytest

ON = {"volumePermissions": {"enabled": True}}


def test_should_not_run_by_default(default):
    assert default.init_container("volume-permissions") is None


@pytest.mark.parametrize("sets", [(), ("mode=distributed", "worldSize=2")], ids=["standalone", "distributed"])
def test_should_chown_data_volume_to_run_as_user_and_fs_group(render, sets):
    m = render({**ON, "securityContext": {"runAsUser": 2000, "fsGroup": 3000},
                "persistence": {"mountPath": "/ckpt"}}, *sets)
    init = m.init_container("volume-permissions")
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env == {"OWNER": "2000:3000", "DATA_DIR": "/ckpt"}
    assert init["command"][-1] == 'chown -R "$OWNER" "$DATA_DIR"'
    assert init["volumeMounts"] == [{"name": "data", "mountPath": "/ckpt"}]
    assert init["securityContext"]["runAsUser"] == 0
    assert set(init["securityContext"]["capabilities"]["add"]) == {"CHOWN", "DAC_OVERRIDE", "FOWNER"}


def test_should_run_before_git_clone(render):
    m = render({**ON, "cloneFilesFromGit": {"enabled": True, "repository": "https://h/r.git"}})
    assert [c["name"] for c in m.pod_spec()["initContainers"]] == ["volume-permissions", "git-clone"]


def test_should_use_pinned_busybox_image(render):
    init = render(ON).init_container("volume-permissions")
    assert init["image"] == "docker.io/library/busybox:1.37.0"
    assert init["imagePullPolicy"] == "IfNotPresent"


def test_should_honour_image_values_and_resources(render):
    m = render({"volumePermissions": {
        "enabled": True, "resources": {"limits": {"cpu": "100m", "memory": "32Mi"}},
        "image": {"registry": "mirror.local", "repository": "base/shell", "tag": "1", "digest": "sha256:" + "a" * 64,
                  "pullPolicy": "Always", "pullSecrets": [{"name": "shell-pull"}]}}})
    init = m.init_container("volume-permissions")
    assert init["image"] == "mirror.local/base/shell@sha256:" + "a" * 64
    assert init["imagePullPolicy"] == "Always"
    assert init["resources"] == {"limits": {"cpu": "100m", "memory": "32Mi"}}
    assert {"name": "shell-pull"} in m.pod_spec()["imagePullSecrets"]


def test_should_not_add_its_pull_secrets_when_disabled(render):
    m = render({"volumePermissions": {"image": {"pullSecrets": ["shell-pull"]}}})
    assert "imagePullSecrets" not in m.pod_spec()
