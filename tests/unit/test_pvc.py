"""templates/pvc.yaml: the claim of the standalone pod, or the one claim every rank shares."""
import pytest

from harness.presets import MODES, distributed, merge


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


def test_should_create_one_claim_for_ranks_that_share_it(render):
    assert render(merge({"persistence": {"accessMode": "ReadWriteMany"}}, distributed(2))).get(
        "PersistentVolumeClaim", "rel-pytorch")


@pytest.mark.parametrize("mode", MODES)
def test_should_size_claims(render, mode):
    m = render(merge({"persistence": {"size": "100Gi"}}, MODES[mode]))
    if mode == "distributed":
        spec = m["StatefulSet"]["spec"]["volumeClaimTemplates"][0]["spec"]
    else:
        spec = m.get("PersistentVolumeClaim", "rel-pytorch")["spec"]
    assert spec["resources"]["requests"]["storage"] == "100Gi"


@pytest.mark.parametrize("mode", MODES)
def test_should_annotate_claims(render, mode):
    m = render(merge({"persistence": {"annotations": {"backup": "daily"}}}, MODES[mode]))
    if mode == "distributed":
        meta = m["StatefulSet"]["spec"]["volumeClaimTemplates"][0]["metadata"]
    else:
        meta = m["PersistentVolumeClaim"]["metadata"]
    assert meta["annotations"] == {"backup": "daily"}


@pytest.mark.parametrize("mode", ["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany", "ReadOnlyMany"])
def test_should_set_access_mode(render, mode):
    assert render({"persistence": {"accessMode": mode}})["PersistentVolumeClaim"]["spec"]["accessModes"] == [mode]
