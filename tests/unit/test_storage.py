"""templates/_storage.tpl: the pod's volumes and the PyTorch container's mounts (/tmp, /dev/shm,
/app, the data volume, the checkpoint claim, extraVolumes), whether ranks share one claim, and the
claims' spec (persistence.*, checkpoint.persistence.*, global.storageClass, shm.*)."""
import itertools

import pytest

from harness.presets import CODE, GIT, JOB, MODES, PERMISSIONS, distributed, merge

SOURCES = {"none": {}, "configMap": {"configMap": "code"}, "examples": {"examples": {"enabled": True}}, "git": GIT}
STORAGE = {"rwo": {}, "rwx": {"persistence": {"accessMode": "ReadWriteMany"}},
           "existing": {"persistence": {"existingClaim": "data"}}, "off": {"persistence": {"enabled": False}},
           "permissions": PERMISSIONS}


def claim_spec(m) -> dict:
    """The spec of the data claim: the StatefulSet's claim template, or the PVC."""
    if m.workload()["kind"] == "StatefulSet":
        return m["StatefulSet"]["spec"]["volumeClaimTemplates"][0]["spec"]
    return m.get("PersistentVolumeClaim", "rel-pytorch")["spec"]


@pytest.mark.parametrize("mode,source,storage", list(itertools.product(MODES, SOURCES, STORAGE)))
def test_should_mount_only_volumes_that_exist(render, mode, source, storage):
    m = render(merge(MODES[mode], SOURCES[source], STORAGE[storage]))
    spec = m.pod_spec()
    available = set(m.volumes())
    if m.workload()["kind"] == "StatefulSet":
        available |= {t["metadata"]["name"] for t in m.workload()["spec"].get("volumeClaimTemplates", [])}
    for c in spec.get("initContainers", []) + spec["containers"]:
        for mount in c.get("volumeMounts", []):
            assert mount["name"] in available, f"{c['name']} mounts missing volume {mount['name']}"
    # and no two mounts of one container share a path
    paths = [mt["mountPath"] for mt in m.container()["volumeMounts"]]
    assert len(paths) == len(set(paths))
    # every rank has writable storage at the mount path
    assert m.mounts()["/data"]["name"] == "data"


@pytest.mark.parametrize("mode", MODES)
def test_should_mount_data_at_mount_path(render, mode):
    m = render(merge({"persistence": {"mountPath": "/checkpoints"}}, MODES[mode]))
    assert m.mounts()["/checkpoints"]["name"] == "data"
    assert m.env()["CHECKPOINT_DIR"] == "/checkpoints"


@pytest.mark.parametrize("mode", ["ReadWriteMany", "ReadOnlyMany"])
def test_should_share_one_claim_when_access_mode_allows_many_nodes(render, mode):
    m = render(merge({"persistence": {"accessMode": mode}}, distributed(3)))
    assert "volumeClaimTemplates" not in m["StatefulSet"]["spec"]
    pvc = m.get("PersistentVolumeClaim", "rel-pytorch")
    assert pvc["spec"]["accessModes"] == [mode]
    assert m.volumes()["data"]["persistentVolumeClaim"]["claimName"] == "rel-pytorch"


def test_should_mount_read_only_claim_read_only(render):
    m = render(merge({"persistence": {"accessMode": "ReadOnlyMany"}}, distributed(2)))
    assert m.mounts()["/data"]["readOnly"] is True


def test_should_mount_data_writable_by_default(distributed):
    assert "readOnly" not in distributed.mounts()["/data"]


def test_should_share_existing_claim_between_ranks(render):
    m = render(merge({"persistence": {"existingClaim": "datasets"}}, distributed(2)))
    assert "volumeClaimTemplates" not in m["StatefulSet"]["spec"]
    assert m.find("PersistentVolumeClaim") is None
    assert m.volumes()["data"]["persistentVolumeClaim"]["claimName"] == "datasets"


def test_should_use_empty_dir_for_data_without_persistence(render):
    m = render(merge({"persistence": {"enabled": False}}, distributed(2)))
    assert "volumeClaimTemplates" not in m["StatefulSet"]["spec"]
    assert m.volumes()["data"] == {"name": "data", "emptyDir": {}}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("persistence,glob,expected", [
    ({}, "", None),
    ({"storageClass": "fast"}, "", "fast"),
    ({"storageClass": "fast"}, "global-class", "global-class"),
    ({}, "global-class", "global-class"),
    ({"storageClass": "-"}, "", ""),
    ({}, "-", ""),
])
def test_should_pick_storage_class(render, mode, persistence, glob, expected):
    spec = claim_spec(render(merge({"persistence": persistence, "global": {"storageClass": glob}}, MODES[mode])))
    if expected is None:
        assert "storageClassName" not in spec
    else:
        assert spec["storageClassName"] == expected


@pytest.mark.parametrize("mode", MODES)
def test_should_give_claims_the_same_spec_in_every_mode(render, mode):
    spec = claim_spec(render(merge({"persistence": {"size": "100Gi", "storageClass": "fast"}}, MODES[mode])))
    assert spec == {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast",
                    "resources": {"requests": {"storage": "100Gi"}}}


@pytest.mark.parametrize("mode", MODES)
def test_should_mount_sized_memory_backed_shm_by_default(render, mode):
    m = render(MODES[mode])
    assert m.volumes()["shm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert m.mounts()["/dev/shm"]["name"] == "shm"


def test_should_size_shm(render):
    assert render({"shm": {"sizeLimit": "16Gi"}}).volumes()["shm"]["emptyDir"]["sizeLimit"] == "16Gi"


def test_should_leave_shm_alone_when_disabled(render):
    m = render({"shm": {"enabled": False}})
    assert "shm" not in m.volumes() and "/dev/shm" not in m.mounts()


def test_should_add_extra_volumes_and_mounts_as_templates(render):
    m = render({"extraVolumes": [{"name": "datasets", "persistentVolumeClaim": {"claimName": "{{ .Release.Name }}-ds"}}],
                "extraVolumeMounts": [{"name": "datasets", "mountPath": "/datasets", "readOnly": True}]})
    assert m.volumes()["datasets"]["persistentVolumeClaim"]["claimName"] == "rel-ds"
    assert m.mounts()["/datasets"] == {"name": "datasets", "mountPath": "/datasets", "readOnly": True}


# --- the checkpoint claim (checkpoint.persistence.*) ------------------------------------------

@pytest.mark.parametrize("workload,values", [
    ("Deployment", {}), ("StatefulSet", distributed(3)),
    ("Job", merge(CODE, distributed(3), JOB, {"persistence": {"enabled": False}}))])
def test_should_mount_the_checkpoint_claim_in_every_workload(render, workload, values):
    m = render(merge(values, {"checkpoint": {"persistence": {"enabled": True, "mountPath": "/ckpt"}}}))
    assert m.workload()["kind"] == workload
    assert m.volumes()["checkpoints"] == {"name": "checkpoints", "persistentVolumeClaim": {"claimName": "rel-pytorch-checkpoints"}}
    assert m.mounts()["/ckpt"] == {"name": "checkpoints", "mountPath": "/ckpt"}
    assert m.env()["CHECKPOINT_DIR"] == "/ckpt"


def test_should_mount_no_checkpoint_claim_by_default(default, distributed):
    for m in (default, distributed):
        assert "checkpoints" not in m.volumes()
        assert "checkpoints" not in {v["name"] for v in m.container()["volumeMounts"]}
        assert m.env()["CHECKPOINT_DIR"] == "/data"
