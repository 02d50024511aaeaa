"""templates/_pod.tpl: the pod template every workload shares: pod labels and annotations, the
files checksum, service account, scheduling (priority class, node selector, tolerations) and
host aliases."""
import pytest

from harness.presets import CODE, JOB, MODES, distributed, merge
from harness.render import chart_copy


@pytest.mark.parametrize("mode", MODES)
def test_should_add_pod_labels_and_annotations(render, mode):
    meta = render(merge({"podLabels": {"queue": "{{ .Release.Name }}"}, "podAnnotations": {"sidecar": "off"}},
                        MODES[mode])).workload()["spec"]["template"]["metadata"]
    assert meta["labels"]["queue"] == "rel"
    assert meta["annotations"] == {"sidecar": "off"}


def test_should_roll_pods_when_files_change(render, chart_with_files):
    annotations = render(None, chart=chart_with_files).workload()["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["checksum/files"]) == 64


def test_should_change_the_checksum_with_the_files_and_only_with_them(render, tmp_path_factory):
    def checksum(script: str, values: dict | None = None) -> str:
        chart = chart_copy(tmp_path_factory.mktemp("chart"), {"files/train.py": script})
        return render(values, chart=chart).workload()["spec"]["template"]["metadata"]["annotations"]["checksum/files"]

    first = checksum("print('epoch 1')\n")
    assert checksum("print('epoch 2')\n") != first
    assert checksum("print('epoch 1')\n", {"port": 23456, "service": {"type": "NodePort"}}) == first


def test_should_not_checksum_files_the_chart_does_not_render(render):
    assert "annotations" not in render({"configMap": "code"}).workload()["spec"]["template"]["metadata"]


@pytest.mark.parametrize("values,restart_policy,subdomain", [
    ({}, None, None),
    (distributed(2), None, None),
    (merge(CODE, JOB), "Never", None),
    (merge(CODE, JOB, distributed(2), {"persistence": {"enabled": False}}), "Never", "rel-pytorch-headless"),
])
def test_should_set_restart_policy_and_subdomain_for_jobs_only(render, values, restart_policy, subdomain):
    spec = render(values).pod_spec()
    assert spec.get("restartPolicy") == restart_policy and spec.get("subdomain") == subdomain


def test_should_add_host_aliases(render):
    aliases = [{"ip": "10.1.2.3", "hostnames": ["datasets.internal"]},
               {"ip": "fd00:db8::10", "hostnames": ["models.internal"]},
               {"ip": "::ffff:10.1.2.4", "hostnames": ["mirror.internal"]}]
    assert render({"hostAliases": aliases}).pod_spec()["hostAliases"] == aliases


def test_should_render_no_host_aliases_by_default(default):
    assert "hostAliases" not in default.pod_spec()


def test_should_set_priority_class(render):
    assert render({"priorityClassName": "training"}).pod_spec()["priorityClassName"] == "training"


def test_should_render_no_priority_class_by_default(default):
    assert "priorityClassName" not in default.pod_spec()


def test_should_render_node_selector_as_template(render):
    assert render({"nodeSelector": {"pool": "{{ .Release.Name }}-gpu"}}).pod_spec()["nodeSelector"] == {"pool": "rel-gpu"}


def test_should_render_tolerations_as_template(render):
    tol = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert render({"tolerations": tol}).pod_spec()["tolerations"] == tol


def test_should_render_no_node_selector_or_tolerations_by_default(default):
    assert "nodeSelector" not in default.pod_spec() and "tolerations" not in default.pod_spec()
