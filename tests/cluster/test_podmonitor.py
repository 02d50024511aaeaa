"""The chart's PodMonitor against the Prometheus Operator's real PodMonitor CRD.

Level: API server. The CRD is the one the Prometheus Operator ships (read from its Go module,
harness/crds.py), installed into the control plane; helm renders the PodMonitor for that cluster
(it asks the API server which APIs it serves), and a strict server-side dry run validates it
against the CRD's full schema. That a real Prometheus scrapes what it selects is proven on the
real node (tests/node/test_metrics.py).
"""
from __future__ import annotations

import json

import pytest
import yaml

from harness.tools import ROOT

pytestmark = pytest.mark.cluster

CRD = "podmonitors.monitoring.coreos.com"


@pytest.fixture
def podmonitor_crd(cluster):
    """The real PodMonitor CRD, served for one test, removed afterwards."""
    cluster.install_test_crds(CRD)
    yield cluster.get("crd", CRD)
    cluster.remove_test_crds(CRD)


def test_should_pass_a_strict_dry_run_against_the_real_pod_monitor_crd(cluster, namespace, podmonitor_crd):
    assert podmonitor_crd["metadata"]["annotations"]["operator.prometheus.io/version"] == "0.85.0"
    ns, monitoring = namespace(), namespace()
    args = ["mode=distributed", "worldSize=5", "metrics.enabled=true", "metrics.port=9555", "metrics.path=/train",
            "metrics.podMonitor.enabled=true", f"metrics.podMonitor.namespace={monitoring}",
            "metrics.podMonitor.interval=7s", "metrics.podMonitor.scrapeTimeout=3s",
            "metrics.podMonitor.labels.release=kube-prom"]
    sets = [x for a in args for x in ("--set", a)]
    out = cluster.helm("install", "pm", str(ROOT), "-n", ns, "--dry-run=server", "-o", "json", *sets).stdout
    (pm,) = [d for d in yaml.safe_load_all(json.loads(out)["manifest"]) if d and d["kind"] == "PodMonitor"]

    checked = json.loads(cluster.kubectl("create", "--dry-run=server", "--validate=strict", "-o", "json", "-f", "-",
                                         input=yaml.safe_dump(pm)).stdout)
    assert checked["kind"] == "PodMonitor" and checked["apiVersion"] == "monitoring.coreos.com/v1"
    assert (checked["metadata"]["name"], checked["metadata"]["namespace"]) == ("pm-pytorch", monitoring)
    assert checked["metadata"]["labels"]["release"] == "kube-prom"
    assert checked["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "pm"}},
        "namespaceSelector": {"matchNames": [ns]},
        "podMetricsEndpoints": [{"port": "metrics", "path": "/train", "interval": "7s", "scrapeTimeout": "3s"}],
    }
    # The StatefulSet's metrics port is the one the PodMonitor names.
    (sts,) = [d for d in yaml.safe_load_all(json.loads(out)["manifest"]) if d and d["kind"] == "StatefulSet"]
    ports = sts["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert {"name": "metrics", "containerPort": 9555, "protocol": "TCP"} in ports


def test_should_refuse_what_the_real_crd_refuses(cluster, namespace, podmonitor_crd):
    """The dry run really checks the CRD's schema: an endpoint field the operator does not know,
    and an interval its pattern refuses, are errors."""
    ns = namespace()
    bad = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {"name": "bad"},
           "spec": {"selector": {}, "podMetricsEndpoints": [{"port": "metrics", "scrapeEvery": "7s"}]}}
    proc = cluster.kubectl("create", "--dry-run=server", "--validate=strict", "-n", ns, "-f", "-",
                           input=yaml.safe_dump(bad), check=False)
    assert proc.returncode != 0 and 'unknown field "spec.podMetricsEndpoints[0].scrapeEvery"' in proc.stderr
    bad["spec"]["podMetricsEndpoints"] = [{"port": "metrics", "interval": "7 seconds"}]
    proc = cluster.kubectl("create", "--dry-run=server", "--validate=strict", "-n", ns, "-f", "-",
                           input=yaml.safe_dump(bad), check=False)
    assert proc.returncode != 0 and "spec.podMetricsEndpoints[0].interval" in proc.stderr
