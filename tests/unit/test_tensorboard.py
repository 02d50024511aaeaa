"""templates/_tensorboard.tpl: the TensorBoard native sidecar."""
import pytest

from harness.pod_security import restricted_violations
from harness.presets import CODE, GIT, JOB, MODES, PERMISSIONS, SHARED_CLAIM, distributed, merge

TB = {"tensorboard": {"enabled": True}}


def sidecar(m) -> dict:
    return m.init_container("tensorboard")


@pytest.mark.parametrize("values", MODES.values(), ids=MODES.keys())
def test_should_run_tensorboard_as_a_native_sidecar_on_the_data_volume(render, values):
    m = render(merge(values, TB))
    assert sidecar(m) == {
        "name": "tensorboard", "image": "docker.io/tensorflow/tensorflow:2.20.0", "imagePullPolicy": "IfNotPresent",
        "restartPolicy": "Always",
        "command": ["tensorboard"], "args": ["--logdir=$(TENSORBOARD_LOG_DIR)", "--host=0.0.0.0", "--port=6006"],
        "env": [{"name": "TENSORBOARD_LOG_DIR", "value": "/data/tensorboard"}, {"name": "HOME", "value": "/tmp"}],
        "ports": [{"name": "tensorboard", "containerPort": 6006, "protocol": "TCP"}],
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "data", "mountPath": "/data", "readOnly": True}],
    }
    assert m.env()["TENSORBOARD_LOG_DIR"] == "/data/tensorboard"


def test_should_run_no_sidecar_by_default(default):
    assert "initContainers" not in default.pod_spec()
    assert "TENSORBOARD_LOG_DIR" not in default.env()


@pytest.mark.parametrize("values", [merge(CODE, JOB), merge(distributed(2), CODE, JOB, SHARED_CLAIM)],
                         ids=["job", "indexed-job"])
def test_should_keep_the_sidecar_out_of_the_jobs_completion(render, values):
    spec = render(merge(values, TB)).pod_spec()
    assert spec["restartPolicy"] == "Never"
    assert sidecar(render(merge(values, TB)))["restartPolicy"] == "Always"   # a sidecar, not a container
    assert [c["name"] for c in spec["containers"]] == ["pytorch"]


@pytest.mark.parametrize("values", MODES.values(), ids=MODES.keys())
def test_should_pass_restricted_pod_security_with_the_sidecar(render, values):
    assert restricted_violations(render(merge(values, TB)).pod_spec()) == []


def test_should_start_after_the_other_init_containers(render):
    m = render(merge(TB, GIT, PERMISSIONS))
    assert [c["name"] for c in m.pod_spec()["initContainers"]] == ["volume-permissions", "git-clone", "tensorboard"]


def test_should_read_an_absolute_log_dir_and_a_relative_one_under_the_mount_path(render):
    absolute = render(merge(TB, {"tensorboard": {"logDir": "/tmp/../tmp/tb/"}}))
    assert absolute.env()["TENSORBOARD_LOG_DIR"] == "/tmp/tb"
    relative = render(merge(TB, {"tensorboard": {"logDir": "runs/exp1"}, "persistence": {"mountPath": "/ckpt"}}))
    assert relative.env()["TENSORBOARD_LOG_DIR"] == "/ckpt/runs/exp1"
    assert sidecar(relative)["env"][0] == {"name": "TENSORBOARD_LOG_DIR", "value": "/ckpt/runs/exp1"}
    assert sidecar(relative)["volumeMounts"][1] == {"name": "data", "mountPath": "/ckpt", "readOnly": True}


def test_should_clean_a_relative_log_dir_under_the_mount_path(render):
    m = render(merge(TB, {"tensorboard": {"logDir": "./runs/../exp2/"}}))
    assert m.env()["TENSORBOARD_LOG_DIR"] == "/data/exp2"
    assert sidecar(m)["env"][0] == {"name": "TENSORBOARD_LOG_DIR", "value": "/data/exp2"}


def test_should_use_the_image_port_resources_and_pull_secrets(render):
    values = merge(TB, {"global": {"imageRegistry": "mirror.local"}, "tensorboard": {
        "port": 6100, "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
        "image": {"repository": "ml/tensorboard", "digest": "sha256:" + "a" * 64, "pullPolicy": "Always",
                  "pullSecrets": ["tb-pull"]}}})
    m = render(values)
    tb = sidecar(m)
    assert tb["image"] == "mirror.local/ml/tensorboard@sha256:" + "a" * 64 and tb["imagePullPolicy"] == "Always"
    assert tb["args"][2] == "--port=6100" and tb["ports"][0]["containerPort"] == 6100
    assert tb["resources"] == {"limits": {"cpu": "1", "memory": "2Gi"}}
    assert m.pod_spec()["imagePullSecrets"] == [{"name": "tb-pull"}]


def test_should_not_pull_with_the_sidecars_secret_when_it_is_off(render):
    assert "imagePullSecrets" not in render({"tensorboard": {"image": {"pullSecrets": ["tb-pull"]}}}).pod_spec()
