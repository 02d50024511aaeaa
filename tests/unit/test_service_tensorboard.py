"""templates/service-tensorboard.yaml: the Service to rank 0's TensorBoard."""
import pytest

from harness.presets import CODE, JOB, SHARED_CLAIM, distributed, merge

TB = {"tensorboard": {"enabled": True}}
SELECTOR = {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}


@pytest.mark.parametrize("values,rank0", [
    ({}, {}),
    (distributed(4), {"apps.kubernetes.io/pod-index": "0"}),
    (merge(distributed(4), CODE, JOB, SHARED_CLAIM), {"batch.kubernetes.io/job-completion-index": "0"}),
], ids=["standalone", "statefulset", "indexed-job"])
def test_should_reach_rank_zeros_tensorboard(render, values, rank0):
    svc = render(merge(values, TB)).get("Service", "rel-pytorch-tensorboard")
    assert svc["spec"] == {"type": "ClusterIP",
                           "ports": [{"name": "tensorboard", "port": 6006, "targetPort": 6006, "protocol": "TCP"}],
                           "selector": {**SELECTOR, **rank0}}


def test_should_set_type_port_and_annotations(render):
    values = merge(TB, {"tensorboard": {"port": 6111, "service": {"type": "NodePort", "annotations": {"a": "b"}}}})
    svc = render(values).get("Service", "rel-pytorch-tensorboard")
    assert svc["spec"]["type"] == "NodePort" and svc["metadata"]["annotations"] == {"a": "b"}
    assert svc["spec"]["ports"] == [{"name": "tensorboard", "port": 6111, "targetPort": 6111, "protocol": "TCP"}]


def test_should_render_no_tensorboard_service_by_default(default):
    assert default.find("Service", "rel-pytorch-tensorboard") is None
