"""templates/podmonitor.yaml: a Prometheus Operator PodMonitor, rendered only when the cluster
serves monitoring.coreos.com/v1."""
import pytest

from harness.presets import distributed, merge

API = ("--api-versions", "monitoring.coreos.com/v1/PodMonitor")
MONITORED = {"metrics": {"enabled": True, "podMonitor": {"enabled": True}}}
SELECTOR = {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}


def test_should_scrape_the_metrics_port_of_every_rank(render):
    pm = render(merge(distributed(4), MONITORED), args=API).get("PodMonitor", "rel-pytorch")
    assert pm["apiVersion"] == "monitoring.coreos.com/v1"
    assert pm["metadata"]["namespace"] == "ml"
    assert pm["spec"] == {"selector": {"matchLabels": SELECTOR}, "namespaceSelector": {"matchNames": ["ml"]},
                          "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics"}]}


def test_should_set_namespace_labels_interval_timeout_and_path(render):
    values = merge(MONITORED, {"metrics": {"path": "/prom", "podMonitor": {
        "namespace": "monitoring", "interval": "15s", "scrapeTimeout": "10s", "labels": {"release": "kube-prometheus"}}}})
    pm = render(values, args=API).get("PodMonitor")
    assert pm["metadata"]["namespace"] == "monitoring"
    assert pm["metadata"]["labels"]["release"] == "kube-prometheus"
    assert pm["spec"]["namespaceSelector"] == {"matchNames": ["ml"]}
    assert pm["spec"]["podMetricsEndpoints"] == [{"port": "metrics", "path": "/prom", "interval": "15s",
                                                  "scrapeTimeout": "10s"}]


@pytest.mark.parametrize("values,api", [(MONITORED, ()), ({"metrics": {"enabled": True}}, API)],
                         ids=["not-served", "podmonitor-off"])
def test_should_render_no_pod_monitor(render, values, api):
    assert render(values, args=api).find("PodMonitor") is None


def test_should_refuse_a_pod_monitor_without_metrics(render_error):
    err = render_error({"metrics": {"podMonitor": {"enabled": True}}}, args=API)
    assert "metrics.podMonitor.enabled: needs metrics.enabled=true" in err
