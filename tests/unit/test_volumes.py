"""Every combination of mode, file source and persistence mounts only volumes that exist."""
import itertools

import pytest

MODES = {"standalone": {}, "distributed": {"mode": "distributed", "worldSize": 3}}
SOURCES = {"none": {}, "configMap": {"configMap": "code"}, "examples": {"examples": {"enabled": True}},
           "git": {"cloneFilesFromGit": {"enabled": True, "repository": "https://h/r.git"}}}
STORAGE = {"rwo": {}, "rwx": {"persistence": {"accessMode": "ReadWriteMany"}},
           "existing": {"persistence": {"existingClaim": "data"}}, "off": {"persistence": {"enabled": False}},
           "permissions": {"volumePermissions": {"enabled": True}}}


@pytest.mark.parametrize("mode,source,storage", list(itertools.product(MODES, SOURCES, STORAGE)))
def test_every_volume_mount_names_a_volume_that_exists(render, mode, source, storage):
    m = render({**MODES[mode], **SOURCES[source], **STORAGE[storage]})
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
