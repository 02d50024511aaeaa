"""templates/pvc.yaml and the storage class rules of claims."""
import pytest


def claim_spec(m, distributed):
    if distributed:
        return m["StatefulSet"]["spec"]["volumeClaimTemplates"][0]["spec"]
    return m.get("PersistentVolumeClaim", "rel-pytorch")["spec"]


DIST = ("mode=distributed", "worldSize=2")


def test_should_create_claim_for_standalone_pod_by_default(default):
    pvc = default.get("PersistentVolumeClaim", "rel-pytorch")
    assert pvc["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "8Gi"}}}
    assert default.volumes()["data"]["persistentVolumeClaim"]["claimName"] == "rel-pytorch"
    assert default.mounts()["/data"]["name"] == "data"


def test_should_not_create_claim_without_persistence(render):
    m = render({"persistence": {"enabled": False}})
    assert m.find("PersistentVolumeClaim") is None
    assert m.volumes()["data"] == {"name": "data", "emptyDir": {}}


def test_should_not_create_claim_for_existing_claim(render):
    m = render({"persistence": {"existingClaim": "shared-data"}})
    assert m.find("PersistentVolumeClaim") is None
    assert m.volumes()["data"]["persistentVolumeClaim"]["claimName"] == "shared-data"


@pytest.mark.parametrize("sets", [(), DIST], ids=["standalone", "distributed"])
def test_should_size_claims(render, sets):
    m = render({"persistence": {"size": "100Gi"}}, *sets)
    assert claim_spec(m, bool(sets))["resources"]["requests"]["storage"] == "100Gi"


@pytest.mark.parametrize("sets", [(), DIST], ids=["standalone", "distributed"])
@pytest.mark.parametrize("persistence,glob,expected", [
    ({}, "", None),
    ({"storageClass": "fast"}, "", "fast"),
    ({"storageClass": "fast"}, "global-class", "global-class"),
    ({}, "global-class", "global-class"),
    ({"storageClass": "-"}, "", ""),
    ({}, "-", ""),
])
def test_should_pick_storage_class(render, sets, persistence, glob, expected):
    m = render({"persistence": persistence, "global": {"storageClass": glob}}, *sets)
    spec = claim_spec(m, bool(sets))
    if expected is None:
        assert "storageClassName" not in spec
    else:
        assert spec["storageClassName"] == expected


@pytest.mark.parametrize("sets", [(), DIST], ids=["standalone", "distributed"])
def test_should_annotate_claims(render, sets):
    m = render({"persistence": {"annotations": {"backup": "daily"}}}, *sets)
    if sets:
        meta = m["StatefulSet"]["spec"]["volumeClaimTemplates"][0]["metadata"]
    else:
        meta = m["PersistentVolumeClaim"]["metadata"]
    assert meta["annotations"] == {"backup": "daily"}


@pytest.mark.parametrize("mode", ["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany", "ReadOnlyMany"])
def test_should_set_access_mode(render, mode):
    assert render({"persistence": {"accessMode": mode}})["PersistentVolumeClaim"]["spec"]["accessModes"] == [mode]


@pytest.mark.parametrize("sets", [(), DIST], ids=["standalone", "distributed"])
def test_should_mount_data_at_mount_path(render, sets):
    m = render({"persistence": {"mountPath": "/checkpoints"}}, *sets)
    assert m.mounts()["/checkpoints"]["name"] == "data"
    assert m.env()["CHECKPOINT_DIR"] == "/checkpoints"
