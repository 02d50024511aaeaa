"""templates/tests/test-master-address.yaml: the `helm test` hook."""
from harness.pod_security import restricted_violations
from harness.pods import env_of


def hook(m):
    return m.get("Pod", "rel-pytorch-test-master-address")


def test_should_not_install_hook_with_the_release(default):
    assert default.find("Pod") is None


def test_should_leave_distributed_mode_to_the_preflight(render):
    """Distributed mode runs templates/tests/test-preflight.yaml instead (test_test_preflight.py)."""
    m = render(None, "mode=distributed", "worldSize=3", show_tests=True)
    assert m.find("Pod", "rel-pytorch-test-master-address") is None
    assert [o["metadata"]["name"] for o in m if o["kind"] == "Pod"] == ["rel-pytorch-test-preflight"]


def test_should_resolve_master_service_in_standalone_mode(render):
    pod = hook(render({"port": 1234}, show_tests=True))
    env = env_of(pod["spec"]["containers"][0])
    assert env == {"MASTER_ADDR": "rel-pytorch.ml.svc.cluster.local", "MASTER_PORT": "1234", "PYTHONDONTWRITEBYTECODE": "1"}


def test_should_run_hook_under_restricted_pod_security(render):
    assert restricted_violations(hook(render(None, show_tests=True))["spec"]) == []


def test_should_bound_hook_resources_and_run_as_nobody_group(render):
    pod = hook(render(None, show_tests=True))
    assert pod["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "10m", "memory": "32Mi", "ephemeral-storage": "1Mi"},
        "limits": {"cpu": "200m", "memory": "128Mi", "ephemeral-storage": "32Mi"},
    }
    assert (pod["spec"]["securityContext"]["runAsUser"], pod["spec"]["securityContext"]["runAsGroup"]) == (65534, 65534)


def test_should_run_hook_as_nobody_whatever_the_images_user(render):
    """The PyTorch image runs as root: runAsNonRoot alone would make the kubelet refuse the pod."""
    spec = hook(render({"securityContext": {"runAsUser": 2000}}, show_tests=True))["spec"]
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}}
