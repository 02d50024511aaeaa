"""templates/_labels.tpl: labels, selectors, common labels and annotations."""
import pytest

from harness.presets import CODE, JOB, SHARED_CLAIM, distributed, merge
from harness.render import chart_copy
from harness.tools import CHART

SELECTOR = {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}


def test_should_label_every_resource_with_standard_labels(default, distributed):
    for m in (default, distributed):
        for o in m:
            labels = o["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "Helm"
            assert labels["helm.sh/chart"] == "pytorch-1.1.0"
            assert labels["app.kubernetes.io/version"] == "2.8.0"
            assert SELECTOR.items() <= labels.items()


def test_should_select_pods_with_immutable_labels_only(default, distributed):
    for m in (default, distributed):
        assert m.workload()["spec"]["selector"]["matchLabels"] == SELECTOR
        assert SELECTOR.items() <= m.workload()["spec"]["template"]["metadata"]["labels"].items()


def test_should_keep_chart_version_out_of_pod_template_labels(default):
    assert "helm.sh/chart" not in default.workload()["spec"]["template"]["metadata"]["labels"]


def test_should_add_common_labels_to_every_resource_and_pod(render):
    m = render({"commonLabels": {"team": "vision"}})
    for o in m:
        assert o["metadata"]["labels"]["team"] == "vision"
    assert m.workload()["spec"]["template"]["metadata"]["labels"]["team"] == "vision"
    assert "team" not in m.workload()["spec"]["selector"]["matchLabels"]


def test_should_render_common_labels_as_templates(render):
    m = render({"commonLabels": {"release": "{{ .Release.Name }}"}})
    assert m.workload()["metadata"]["labels"]["release"] == "rel"


def test_should_add_common_annotations_to_every_resource(render):
    m = render({"commonAnnotations": {"owner": "ml-platform"}}, "mode=distributed", "worldSize=2")
    for o in m:
        assert o["metadata"]["annotations"]["owner"] == "ml-platform"


def test_should_render_no_annotations_block_by_default(default):
    for o in default:
        assert "annotations" not in o["metadata"]


def test_should_keep_a_version_that_looks_like_a_number_a_string_label(render, tmp_path_factory):
    chart_yaml = (CHART / "Chart.yaml").read_text()
    assert 'appVersion: "2.8.0"' in chart_yaml
    chart = chart_copy(tmp_path_factory.mktemp("chart"), {"Chart.yaml": chart_yaml.replace('appVersion: "2.8.0"',
                                                                                            'appVersion: "3.0"')})
    for o in render(None, chart=chart):
        assert o["metadata"]["labels"]["app.kubernetes.io/version"] == "3.0", o["kind"]


def test_should_let_a_resources_own_annotation_win_over_a_common_one(render):
    m = render({"commonAnnotations": {"owner": "ml-platform", "team": "all"}, "service": {"annotations": {"team": "vision"}}})
    assert m.get("Service", "rel-pytorch")["metadata"]["annotations"] == {"owner": "ml-platform", "team": "vision"}
    assert m["ServiceAccount"]["metadata"]["annotations"] == {"owner": "ml-platform", "team": "all"}


def label_maps(node, key: str = ""):
    """Every map of labels, label selectors and annotations in an object, with its key."""
    if isinstance(node, dict):
        if key in ("labels", "matchLabels", "annotations") or (key == "selector" and "matchLabels" not in node
                                                               and "matchExpressions" not in node):
            yield key, node
        for k, v in node.items():
            yield from label_maps(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from label_maps(item, key)


# Names that YAML reads as numbers when a template leaves them unquoted.
NUMERIC_NAMES = {"kueue": {"queueName": "42", "priorityClass": "7"}, "podLabels": {"batch": "2024"},
                 "commonLabels": {"cost-center": "1001"}, "gangScheduling": {"volcano": {"queue": "3"}}}


@pytest.mark.parametrize("values", [
    {},
    merge(distributed(5), {"tensorboard": {"enabled": True}, "metrics": {"enabled": True}}),
    merge(distributed(5), CODE, JOB, SHARED_CLAIM, {"gangScheduling": {"enabled": True, "force": True}}),
    merge(distributed(5), {"gangScheduling": {"enabled": True, "force": True, "provider": "coscheduling"}}),
], ids=["deployment", "statefulset", "indexed-job-volcano", "statefulset-coscheduling"])
def test_should_send_every_label_and_annotation_value_as_a_string_for_a_numeric_release_name(render, values):
    """A release named 1234 (helm allows it) and names that look like numbers: every label,
    selector and annotation value stays a string, which is all the API server accepts there."""
    m = render(merge(NUMERIC_NAMES, values), release="1234", show_tests=True)
    not_strings = [(o["kind"], key, k, v) for o in m for key, labels in label_maps(o) for k, v in labels.items()
                   if not isinstance(v, str)]
    assert not_strings == []
    assert m.workload()["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/instance"] == "1234"
