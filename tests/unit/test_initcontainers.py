"""templates/_initcontainers.tpl: the volume-permissions init container (volumePermissions.*)
and the git-clone init container (cloneFilesFromGit.*, git.*)."""
import pytest

from harness.pods import env_of
from harness.presets import GIT, MODES, PERMISSIONS, REPOSITORY, merge

GIT_AT_V2 = merge(GIT, {"cloneFilesFromGit": {"revision": "v2.0"}})


def test_should_render_no_init_containers_by_default(default):
    assert "initContainers" not in default.pod_spec()


# --- volume permissions ---------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_should_chown_data_volume_to_run_as_user_and_fs_group(render, mode):
    m = render(merge(PERMISSIONS, {"securityContext": {"runAsUser": 2000, "fsGroup": 3000},
                                   "persistence": {"mountPath": "/ckpt"}}, MODES[mode]))
    init = m.init_container("volume-permissions")
    assert env_of(init) == {"OWNER": "2000:3000", "DATA_DIR": "/ckpt"}
    assert init["command"][-1] == 'chown -R "$OWNER" "$DATA_DIR"'
    assert init["volumeMounts"] == [{"name": "data", "mountPath": "/ckpt"}]
    # root, but with only the capabilities chown needs, no escalation, a read-only root and seccomp
    assert init["securityContext"] == {
        "runAsUser": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER"]},
        "seccompProfile": {"type": "RuntimeDefault"}}


def test_should_run_volume_permissions_before_git_clone(render):
    m = render(merge(PERMISSIONS, GIT))
    assert [c["name"] for c in m.pod_spec()["initContainers"]] == ["volume-permissions", "git-clone"]


def test_should_use_pinned_busybox_image(render):
    init = render(PERMISSIONS).init_container("volume-permissions")
    assert init["image"] == "docker.io/library/busybox:1.37.0"
    assert init["imagePullPolicy"] == "IfNotPresent"


def test_should_honour_volume_permissions_image_values_and_resources(render):
    m = render({"volumePermissions": {
        "enabled": True, "resources": {"limits": {"cpu": "100m", "memory": "32Mi"}},
        "image": {"registry": "mirror.local", "repository": "base/shell", "tag": "1", "digest": "sha256:" + "a" * 64,
                  "pullPolicy": "Always", "pullSecrets": [{"name": "shell-pull"}]}}})
    init = m.init_container("volume-permissions")
    assert init["image"] == "mirror.local/base/shell@sha256:" + "a" * 64
    assert init["imagePullPolicy"] == "Always"
    assert init["resources"] == {"limits": {"cpu": "100m", "memory": "32Mi"}}
    assert {"name": "shell-pull"} in m.pod_spec()["imagePullSecrets"]


def test_should_give_volume_permissions_no_resources_by_default(render):
    assert "resources" not in render(PERMISSIONS).init_container("volume-permissions")


def test_should_not_add_volume_permissions_pull_secrets_when_disabled(render):
    m = render({"volumePermissions": {"image": {"pullSecrets": ["shell-pull"]}}})
    assert "imagePullSecrets" not in m.pod_spec()


# --- git clone ------------------------------------------------------------------------------

def test_should_clone_repository_at_revision_into_app(render):
    m = render(GIT_AT_V2)
    init = m.init_container("git-clone")
    env = env_of(init)
    assert env["GIT_REPOSITORY"] == REPOSITORY
    assert env["GIT_REVISION"] == "v2.0"
    script = init["command"][-1]
    assert 'fetch -q --depth 1 origin "$GIT_REVISION"' in script and "checkout -q FETCH_HEAD" in script
    # the URL and revision reach git through the environment, never pasted into the script
    assert "git.example.org" not in script and "v2.0" not in script
    assert {m["mountPath"]: m["name"] for m in init["volumeMounts"]} == {"/app": "files", "/tmp": "tmp"}
    assert m.mounts()["/app"]["name"] == "files"


def test_should_default_revision_to_main(render):
    assert env_of(render(GIT).init_container("git-clone"))["GIT_REVISION"] == "main"


def test_should_render_repository_as_template(render):
    m = render(merge(GIT, {"cloneFilesFromGit": {"repository": "https://git.example.org/{{ .Release.Name }}.git"}}))
    assert env_of(m.init_container("git-clone"))["GIT_REPOSITORY"] == "https://git.example.org/rel.git"


def test_should_pass_hostile_revision_as_data(render):
    m = render(merge(GIT, {"cloneFilesFromGit": {"revision": "x; rm -rf /"}}))
    init = m.init_container("git-clone")
    assert "rm -rf" not in init["command"][-1]


def test_should_add_extra_mounts_to_git_container_only(render):
    mount = {"name": "ssh", "mountPath": "/etc/ssh-key", "readOnly": True}
    m = render(merge(GIT_AT_V2, {"cloneFilesFromGit": {"extraVolumeMounts": [mount]},
                                 "extraVolumes": [{"name": "ssh", "secret": {"secretName": "deploy-key"}}]}))
    assert mount in m.init_container("git-clone")["volumeMounts"]
    assert "/etc/ssh-key" not in m.mounts()


def test_should_use_pinned_git_image(render):
    init = render(GIT_AT_V2).init_container("git-clone")
    assert init["image"] == "docker.io/alpine/git:2.45.2"
    assert init["imagePullPolicy"] == "IfNotPresent"


def test_should_honour_git_image_values(render):
    m = render(merge(GIT_AT_V2, {"git": {"registry": "mirror.local", "repository": "tools/git", "tag": "2.47.0",
                                         "pullPolicy": "Always", "pullSecrets": ["git-pull"]}}))
    init = m.init_container("git-clone")
    assert init["image"] == "mirror.local/tools/git:2.47.0"
    assert init["imagePullPolicy"] == "Always"
    assert {"name": "git-pull"} in m.pod_spec()["imagePullSecrets"]


def test_should_not_add_git_pull_secrets_when_not_cloning(render):
    m = render({"git": {"pullSecrets": ["git-pull"]}})
    assert "imagePullSecrets" not in m.pod_spec()


@pytest.mark.parametrize("mode", MODES)
def test_should_run_git_container_with_secure_context(render, mode):
    ctx = render(merge(GIT_AT_V2, MODES[mode])).init_container("git-clone")["securityContext"]
    assert ctx == {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                   "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def test_should_give_git_container_no_security_context_when_disabled(render):
    assert "securityContext" not in render(merge(GIT, {"containerSecurityContext": {"enabled": False}})).init_container("git-clone")


# --- credentials of a private repository (cloneFilesFromGit.existingSecret) ------------------

PRIVATE = merge(GIT, {"cloneFilesFromGit": {"existingSecret": "team-git"}})


def test_should_mount_the_git_secret_read_only_in_the_git_container_only(render):
    m = render(PRIVATE)
    assert m.volumes()["git-auth"] == {"name": "git-auth", "secret": {"secretName": "team-git", "defaultMode": 0o440}}
    mounts = {v["mountPath"]: v for v in m.init_container("git-clone")["volumeMounts"]}
    assert mounts["/etc/git-auth"] == {"name": "git-auth", "mountPath": "/etc/git-auth", "readOnly": True}
    assert "/etc/git-auth" not in m.mounts()


def test_should_point_git_and_ssh_at_the_secret_files_only(render):
    git = render(PRIVATE).init_container("git-clone")
    env = env_of(git)
    assert env["GIT_AUTH_DIR"] == "/etc/git-auth" and env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_SSH_COMMAND"] == ("ssh -i /etc/git-auth/ssh-privatekey -o IdentitiesOnly=yes "
                                      "-o UserKnownHostsFile=/etc/git-auth/known_hosts -o StrictHostKeyChecking=yes")
    helper = [line for line in git["command"][2].splitlines() if "credential.helper" in line]
    assert helper == ["git config --global credential.helper '!f() { test \"$1\" = get || exit 0; "
                      "echo \"username=$(cat \"$GIT_AUTH_DIR/username\" 2>/dev/null || echo git)\"; "
                      "echo \"password=$(cat \"$GIT_AUTH_DIR/password\")\"; }; f'"]


def test_should_render_no_credentials_without_a_secret(render):
    m = render(GIT)
    git = m.init_container("git-clone")
    assert "git-auth" not in m.volumes()
    assert [v["name"] for v in git["volumeMounts"]] == ["files", "tmp"]
    assert not {"GIT_AUTH_DIR", "GIT_SSH_COMMAND", "GIT_TERMINAL_PROMPT"} & set(env_of(git))
    assert "credential.helper" not in git["command"][2]


def test_should_ignore_the_git_secret_when_not_cloning(render):
    m = render({"cloneFilesFromGit": {"existingSecret": "team-git"}})
    assert m.init_container("git-clone") is None and "git-auth" not in m.volumes()
