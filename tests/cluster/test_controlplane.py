"""The embedded control plane itself: versions, nodes, storage, network isolation, and the
harness's removal of the test CRDs."""
from __future__ import annotations

import json

import pytest

from harness.tools import pinned_versions

pytestmark = pytest.mark.cluster


def test_server_reports_pinned_version(cluster):
    want = pinned_versions()["KUBERNETES_VERSION"]
    server = json.loads(cluster.kubectl("get", "--raw=/version").stdout)
    assert server["gitVersion"] == want
    assert (server["major"], server["minor"]) == ("1", want.split(".")[1])
    client = json.loads(cluster.kubectl("version", "--client", "-o", "json").stdout)
    assert client["clientVersion"]["gitVersion"] == want


def test_simulated_nodes_are_ready(cluster):
    nodes = cluster.get("nodes")["items"]
    assert len(nodes) == cluster.nodes
    for node in nodes:
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert ready["Ready"] == "True", node["metadata"]["name"]
        assert node["status"]["allocatable"]["nvidia.com/gpu"] == "8"


def test_default_storage_class_provisions_claims(cluster, namespace):
    ns = namespace()
    cluster.apply(f"""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: probe, namespace: {ns}}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
""")
    pvc = cluster.wait_for("claim bound", lambda: (
        p if (p := cluster.get("pvc", "probe", "-n", ns))["status"].get("phase") == "Bound" else None), 60)
    assert pvc["spec"]["storageClassName"] == "standard"
    pv = cluster.get("pv", pvc["spec"]["volumeName"])
    # hostPath volumes are created in the controller manager's private /tmp/hostpath_pv,
    # which is .cache/cluster/<name>/pv-tmp of this clone.
    assert pv["spec"]["hostPath"]["path"].startswith("/tmp/hostpath_pv/")
    assert (cluster.state / "pv-tmp" / pv["spec"]["hostPath"]["path"].removeprefix("/tmp/hostpath_pv/")).is_dir()


def test_network_namespace_has_only_loopback(cluster):
    links = cluster.run("ip", "-o", "link", "show").stdout.splitlines()
    assert [line.split(": ")[1] for line in links] == ["lo"]
    addrs = cluster.run("ip", "-o", "addr", "show").stdout
    assert "inet 127.0.0.1/8" in addrs and "inet " not in addrs.replace("inet 127.0.0.1/8", "")
    routes = cluster.run("ip", "-4", "route", "show", "table", "all").stdout
    assert "default" not in routes
    assert all(" dev lo " in r + " " for r in routes.splitlines() if r.strip())


def test_fake_addresses_are_unreachable(cluster):
    """A connect() to a Service ClusterIP or a kwok pod IP fails at once inside
    the namespace (no route): nothing can leave 127.0.0.0/8."""
    svc_ip = cluster.get("service", "kubernetes", "-n", "default")["spec"]["clusterIP"]
    assert svc_ip.startswith("10.96.")
    probe = (
        "import errno, socket, sys\n"
        "for ip in sys.argv[1:]:\n"
        "    s = socket.socket(); s.settimeout(2)\n"
        "    try:\n"
        "        s.connect((ip, 443)); print(ip, 'CONNECTED')\n"
        "    except OSError as e:\n"
        "        print(ip, errno.errorcode.get(e.errno, e.errno))\n"
    )
    out = cluster.run("python3", "-c", probe, svc_ip, "10.244.0.5", "8.8.8.8").stdout.split("\n")
    results = dict(line.split() for line in out if line.strip())
    assert results == {svc_ip: "ENETUNREACH", "10.244.0.5": "ENETUNREACH", "8.8.8.8": "ENETUNREACH"}


def test_should_remove_a_test_crd_whose_cleanup_stalls(cluster, namespace):
    """A CRD whose deletion does not finish (here held by a finalizer of the test's own, as the
    API server's stalled cleanup holds it) is no longer served after remove_test_crds, and
    neither are its instances."""
    ns = namespace()
    name = "podmonitors.monitoring.coreos.com"
    cluster.install_test_crds(name)
    cluster.apply(f"apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata:\n  name: held\n"
                  f"  namespace: {ns}\nspec:\n  selector: {{}}\n  podMetricsEndpoints: []\n")
    cluster.kubectl("patch", "crd", name, "--type=merge", "-p", '{"metadata": {"finalizers": ["tests.pytorch-chart/hold"]}}')
    cluster.remove_test_crds(name, cleanup_s=3)
    assert name not in cluster.served()
    assert cluster.kubectl("get", "crd", name, "--ignore-not-found", "-o", "name").stdout == ""
    cluster.install_test_crds(name)   # no instance of the earlier CRD comes back with it
    assert cluster.get(name, "-n", ns)["items"] == []
    cluster.remove_test_crds(name)
