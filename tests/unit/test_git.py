"""The git-clone init container (cloneFilesFromGit, git.*)."""
import pytest

GIT = {"cloneFilesFromGit": {"enabled": True, "repository": "https://git.example.org/ml.git", "revision": "v2.0"}}


def test_should_not_clone_by_default(default):
    assert default.init_container("git-clone") is None


def test_should_clone_repository_at_revision_into_app(render):
    m = render(GIT)
    init = m.init_container("git-clone")
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env["GIT_REPOSITORY"] == "https://git.example.org/ml.git"
    assert env["GIT_REVISION"] == "v2.0"
    script = init["command"][-1]
    assert 'fetch -q --depth 1 origin "$GIT_REVISION"' in script and "checkout -q FETCH_HEAD" in script
    # the URL and revision reach git through the environment, never pasted into the script
    assert "git.example.org" not in script and "v2.0" not in script
    assert {m["mountPath"]: m["name"] for m in init["volumeMounts"]} == {"/app": "files", "/tmp": "tmp"}
    assert m.mounts()["/app"]["name"] == "files"


def test_should_default_revision_to_main(render):
    m = render({"cloneFilesFromGit": {"enabled": True, "repository": "https://h/r.git"}})
    assert {e["name"]: e["value"] for e in m.init_container("git-clone")["env"]}["GIT_REVISION"] == "main"


def test_should_pass_hostile_revision_as_data(render):
    m = render({"cloneFilesFromGit": {"enabled": True, "repository": "https://h/r.git", "revision": "x; rm -rf /"}})
    init = m.init_container("git-clone")
    assert "rm -rf" not in init["command"][-1]


def test_should_add_extra_mounts_to_git_container_only(render):
    mount = {"name": "ssh", "mountPath": "/etc/ssh-key", "readOnly": True}
    m = render({**GIT, "cloneFilesFromGit": {**GIT["cloneFilesFromGit"], "extraVolumeMounts": [mount]},
                "extraVolumes": [{"name": "ssh", "secret": {"secretName": "deploy-key"}}]})
    assert mount in m.init_container("git-clone")["volumeMounts"]
    assert "/etc/ssh-key" not in m.mounts()


def test_should_use_pinned_git_image(render):
    init = render(GIT).init_container("git-clone")
    assert init["image"] == "docker.io/alpine/git:2.45.2"
    assert init["imagePullPolicy"] == "IfNotPresent"


def test_should_honour_git_image_values(render):
    m = render({**GIT, "git": {"registry": "mirror.local", "repository": "tools/git", "tag": "2.47.0",
                               "pullPolicy": "Always", "pullSecrets": ["git-pull"]}})
    init = m.init_container("git-clone")
    assert init["image"] == "mirror.local/tools/git:2.47.0"
    assert init["imagePullPolicy"] == "Always"
    assert {"name": "git-pull"} in m.pod_spec()["imagePullSecrets"]


def test_should_not_add_git_pull_secrets_when_not_cloning(render):
    m = render({"git": {"pullSecrets": ["git-pull"]}})
    assert "imagePullSecrets" not in m.pod_spec()


@pytest.mark.parametrize("sets", [(), ("mode=distributed", "worldSize=3")], ids=["standalone", "distributed"])
def test_should_run_git_container_with_secure_context(render, sets):
    ctx = render(GIT, *sets).init_container("git-clone")["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"]["drop"] == ["ALL"]
    assert ctx["readOnlyRootFilesystem"] is True
