"""templates/pvc-checkpoints.yaml: the checkpoint claim (checkpoint.persistence.*), one claim every
rank and the standalone pod mount; kept on `helm uninstall` with checkpoint.persistence.keep."""
import pytest

from harness.presets import distributed, merge

CKPT = {"checkpoint": {"persistence": {"enabled": True}}}
LABELS = {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel", "helm.sh/chart": "pytorch-1.1.0",
          "app.kubernetes.io/version": "2.8.0", "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/part-of": "pytorch"}


def test_should_not_create_a_checkpoint_claim_by_default(default, distributed):
    for m in (default, distributed):
        assert m.find("PersistentVolumeClaim", "rel-pytorch-checkpoints") is None


def test_should_create_a_shared_claim_kept_on_uninstall(render):
    pvc = render(merge(CKPT, distributed(4))).get("PersistentVolumeClaim", "rel-pytorch-checkpoints")
    assert pvc == {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {
        "name": "rel-pytorch-checkpoints", "namespace": "ml", "labels": LABELS,
        "annotations": {"helm.sh/resource-policy": "keep"}},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "8Gi"}}}}


def test_should_let_helm_delete_the_claim_without_keep(render):
    pvc = render(merge(CKPT, {"checkpoint": {"persistence": {"keep": False}}})).get(
        "PersistentVolumeClaim", "rel-pytorch-checkpoints")
    assert "annotations" not in pvc["metadata"]


def test_should_add_its_own_and_common_labels_and_annotations(render):
    pvc = render(merge(CKPT, {"commonLabels": {"team": "vision"}, "commonAnnotations": {"owner": "ml"},
                              "checkpoint": {"persistence": {"annotations": {"backup": "daily"}}}})).get(
        "PersistentVolumeClaim", "rel-pytorch-checkpoints")
    assert pvc["metadata"]["labels"] == {**LABELS, "team": "vision"}
    assert pvc["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep", "owner": "ml", "backup": "daily"}


def test_should_size_and_set_the_access_mode_of_the_claim(render):
    spec = render(merge(CKPT, {"checkpoint": {"persistence": {"size": "500Gi", "accessMode": "ReadWriteOncePod"}}})).get(
        "PersistentVolumeClaim", "rel-pytorch-checkpoints")["spec"]
    assert spec == {"accessModes": ["ReadWriteOncePod"], "resources": {"requests": {"storage": "500Gi"}}}


@pytest.mark.parametrize("own,glob,expected", [("fast", "", "fast"), ("fast", "global-class", "global-class"),
                                               ("-", "", ""), ("", "", None)])
def test_should_pick_the_storage_class_of_the_claim(render, own, glob, expected):
    spec = render(merge(CKPT, {"checkpoint": {"persistence": {"storageClass": own}}, "global": {"storageClass": glob}})).get(
        "PersistentVolumeClaim", "rel-pytorch-checkpoints")["spec"]
    assert spec.get("storageClassName") == expected


def test_should_create_no_claim_for_an_existing_one(render):
    m = render(merge(CKPT, distributed(3), {"checkpoint": {"persistence": {"existingClaim": "team-ckpt", "accessMode": "ReadWriteOnce"}}}))
    assert m.find("PersistentVolumeClaim", "rel-pytorch-checkpoints") is None
    assert m.volumes()["checkpoints"] == {"name": "checkpoints", "persistentVolumeClaim": {"claimName": "team-ckpt"}}
