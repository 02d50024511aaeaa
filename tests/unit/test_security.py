"""templates/_security.tpl: pod and container security contexts (securityContext.*,
containerSecurityContext.*)."""
import pytest

from harness.pod_security import restricted_violations
from harness.presets import GIT, JOB, MODES, PERMISSIONS, SHARED_CLAIM, distributed, merge


@pytest.mark.parametrize("mode", MODES)
def test_should_pass_restricted_pod_security_by_default(render, mode):
    assert restricted_violations(render(MODES[mode]).pod_spec()) == []


def test_should_pass_restricted_with_git_clone(render):
    m = render(GIT)
    assert restricted_violations(m.pod_spec()) == []


def test_should_fail_restricted_with_volume_permissions_as_documented(render):
    problems = restricted_violations(render(PERMISSIONS).pod_spec())
    assert problems and all(p.startswith("volume-permissions:") for p in problems)


def test_should_set_pod_security_context(default):
    assert default.pod_spec()["securityContext"] == {
        "runAsUser": 1001, "runAsGroup": 1001, "fsGroup": 1001, "fsGroupChangePolicy": "OnRootMismatch",
        "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def test_should_use_security_context_ids(render):
    ctx = render({"securityContext": {"runAsUser": 5000, "runAsGroup": 6000, "fsGroup": 7000,
                                      "fsGroupChangePolicy": "Always"}}).pod_spec()["securityContext"]
    assert (ctx["runAsUser"], ctx["runAsGroup"], ctx["fsGroup"], ctx["fsGroupChangePolicy"]) == (5000, 6000, 7000, "Always")


def test_should_not_claim_non_root_for_user_zero(render):
    assert render({"securityContext": {"runAsUser": 0},
                   "containerSecurityContext": {"runAsNonRoot": False}}).pod_spec()["securityContext"]["runAsNonRoot"] is False


def test_should_drop_pod_security_context_when_disabled(render):
    assert "securityContext" not in render({"securityContext": {"enabled": False}}).pod_spec()


def test_should_set_container_security_context(default):
    assert default.container()["securityContext"] == {
        "runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def test_should_allow_writable_root_filesystem(render):
    assert render({"containerSecurityContext": {"readOnlyRootFilesystem": False}}).container()["securityContext"][
        "readOnlyRootFilesystem"] is False


def test_should_drop_container_security_context_when_disabled(render):
    assert "securityContext" not in render({"containerSecurityContext": {"enabled": False}}).container()


@pytest.mark.parametrize("mode", MODES)
def test_should_give_read_only_root_writable_home_tmp_and_caches(render, mode):
    m = render(MODES[mode])
    env = m.env()
    assert env["HOME"] == "/tmp" and env["XDG_CACHE_HOME"].startswith("/tmp/")
    assert m.mounts()["/tmp"]["name"] == "tmp" and m.volumes()["tmp"]["emptyDir"] == {}
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


# Every container the chart can render, in one render each per workload kind (a Job needs an
# entrypoint: one in the cloned files).
ENTRYPOINT = {"entrypoint": {"file": "train.py"}}
EVERY_CONTAINER = merge(GIT, PERMISSIONS, {"tensorboard": {"enabled": True}})
NON_ROOT = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
# The one container that runs as root, with what chown needs and nothing more.
ROOT_CHOWN = {"runAsUser": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
              "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER"]},
              "seccompProfile": {"type": "RuntimeDefault"}}
# The helm test pod's container (its pod runs it as nobody, with seccomp).
HOOK = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


@pytest.mark.parametrize("values", [{}, distributed(5), merge(ENTRYPOINT, JOB), merge(distributed(5), ENTRYPOINT, JOB, SHARED_CLAIM)],
                         ids=["deployment", "statefulset", "job", "indexed-job"])
def test_should_give_every_container_of_every_pod_its_exact_security_context(render, values):
    m = render(merge(EVERY_CONTAINER, values), show_tests=True)
    contexts = {(o["kind"], c["name"]): c.get("securityContext")
                for o in m if o["kind"] in ("Deployment", "StatefulSet", "Job", "Pod")
                for spec in [o["spec"]["template"]["spec"] if o["kind"] != "Pod" else o["spec"]]
                for c in spec.get("initContainers", []) + spec["containers"]}
    kind = m.workload()["kind"]
    assert contexts == {(kind, "volume-permissions"): ROOT_CHOWN, (kind, "git-clone"): NON_ROOT,
                        (kind, "tensorboard"): NON_ROOT, (kind, "pytorch"): NON_ROOT,
                        ("Pod", "preflight" if values.get("mode") == "distributed" else "resolve-master"): HOOK}
