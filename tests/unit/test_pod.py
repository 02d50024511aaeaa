"""Pod-level values shared by every workload: labels, annotations, host aliases, resources..."""
import pytest

MODES = [(), ("mode=distributed", "worldSize=2")]


@pytest.mark.parametrize("sets", MODES, ids=["standalone", "distributed"])
def test_should_add_pod_labels_and_annotations(render, sets):
    meta = render({"podLabels": {"queue": "{{ .Release.Name }}"}, "podAnnotations": {"sidecar": "off"}},
                  *sets).workload()["spec"]["template"]["metadata"]
    assert meta["labels"]["queue"] == "rel"
    assert meta["annotations"] == {"sidecar": "off"}


def test_should_add_host_aliases(render):
    aliases = [{"ip": "10.1.2.3", "hostnames": ["datasets.internal"]}]
    assert render({"hostAliases": aliases}).pod_spec()["hostAliases"] == aliases


def test_should_render_no_host_aliases_by_default(default):
    assert "hostAliases" not in default.pod_spec()


def test_should_set_resources(render):
    res = {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "8Gi", "nvidia.com/gpu": 1}}
    assert render({"resources": res}).container()["resources"] == res


def test_should_render_no_resources_by_default(default):
    assert "resources" not in default.container()


def test_should_set_priority_class(render):
    assert render({"priorityClassName": "training"}).pod_spec()["priorityClassName"] == "training"


def test_should_render_no_priority_class_by_default(default):
    assert "priorityClassName" not in default.pod_spec()


@pytest.mark.parametrize("sets", MODES, ids=["standalone", "distributed"])
def test_should_mount_sized_memory_backed_shm_by_default(render, sets):
    m = render(None, *sets)
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


def test_should_expose_the_dist_port_on_the_container(default):
    assert default.container()["ports"] == [{"name": "dist", "containerPort": 49875, "protocol": "TCP"}]
