"""The chart's NetworkPolicy, enforced on the real node by kube-router (docs/network-policy.md).

Proves (running containers, a real NetworkPolicy agent), with the default values and with
`networkPolicy.allowExternal=false` + `allowExternalEgress=false`: TensorBoard is reached
through its Service (a ClusterIP, routed by kube-proxy); a pod of another namespace reaches
the metrics port where the values allow it; a pod outside the release reaches the exposed
ports only where the values allow it (with allowExternal=false only when labelled as a
client); with allowExternalEgress=false the release's pod reaches DNS but not a pod outside
the release nor the kubelet.

Every connect is made from inside a pod with a short timeout, to a port that listens; its
result and time are kept and printed as the enforcement matrix at the end of the run, and the
agent's REJECT rule must have counted the refusals.
"""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from harness.images import REGISTRY, image_ref
from harness.tools import BIN

from .conftest import Release

pytestmark = pytest.mark.node

METRICS_PORT, TENSORBOARD_PORT, OUTSIDER_PORT = 9412, 6106, 8081
NODE_IP = "10.245.0.1"            # hack/cluster/lib.sh: the node's IP, CoreDNS and the kubelet
KUBELET_PORT = 10250
CONNECT_TIMEOUT = 3.0
RESTRICTED = ("networkPolicy.allowExternal=false", "networkPolicy.allowExternalEgress=false")
CASES = {"default": (), "restricted": RESTRICTED}
# One row per connect: (values, source, destination, expected, measured, milliseconds).
MATRIX: list[tuple[str, str, str, str, str, float]] = []

# Runs in a client pod (any image with python): listens on a port, accepts and closes.
LISTENER = ("import socket, sys, time\n"
            "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(64)\n"
            "end = time.time() + float(sys.argv[2])\n"
            "s.settimeout(1)\n"
            "while time.time() < end:\n"
            "    try: s.accept()[0].close()\n"
            "    except OSError: pass\n")
# Connects to each [host, port] of argv[1] (JSON) with a timeout; a host of the form
# "dns:NAME" is only looked up. Prints one JSON list of [result, milliseconds].
PROBE = ("import json, socket, sys, time\n"
         "out = []\n"
         "for host, port in json.loads(sys.argv[1]):\n"
         "    t = time.monotonic()\n"
         "    try:\n"
         "        if host.startswith('dns:'):\n"
         "            socket.getaddrinfo(host[4:], port, proto=socket.IPPROTO_TCP); r = 'resolved'\n"
         "        else:\n"
         "            socket.create_connection((host, port), timeout=float(sys.argv[2])).close(); r = 'connected'\n"
         "    except socket.timeout: r = 'timed out'\n"
         "    except OSError as e: r = e.strerror or type(e).__name__\n"
         "    out.append([r, round((time.monotonic() - t) * 1000, 1)])\n"
         "print(json.dumps(out))\n")
# The TCP ports a container listens on (/proc/net/tcp and tcp6, state 0A).
LISTENING = ("ports = set()\n"
             "for f in ('/proc/net/tcp', '/proc/net/tcp6'):\n"
             "    for line in open(f).read().splitlines()[1:]:\n"
             "        local, state = line.split()[1], line.split()[3]\n"
             "        if state == '0A': ports.add(int(local.rsplit(':', 1)[1], 16))\n"
             "print(sorted(ports))\n")


def summary_lines() -> list[str]:
    if not MATRIX:
        return []
    lines = [f"  {'values':<11} {'from':<22} {'to':<34} {'expected':<9} {'measured':<19} {'ms':>7}"]
    lines += [f"  {v:<11} {s:<22} {d:<34} {e:<9} {m:<19} {ms:7.1f}" for v, s, d, e, m, ms in MATRIX]
    return lines


# -- pods and probes --------------------------------------------------------------------------
def pytorch_image() -> str:
    repository, tag = image_ref("pytorch")
    return f"{REGISTRY}/{repository}:{tag}"


def client_pod(cluster, ns: str, name: str, labels: dict[str, str] | None = None) -> None:
    """A pod outside the release (the pytorch image, Pod Security `restricted`) that listens on
    OUTSIDER_PORT, so that it is both a source and a target of connects."""
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"test.pytorch-chart/probe": name, **(labels or {})}},
        "spec": {
            "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1001, "runAsGroup": 1001,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "client", "image": pytorch_image(),
                "command": ["python", "-c", LISTENER, str(OUTSIDER_PORT), "3600"],
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}},
            }],
        },
    }
    cluster.apply(json.dumps(pod))


def pod_ip(cluster, ns: str, name: str, timeout: float = 180) -> str:
    def running():
        pod = cluster.get("pod", name, "-n", ns)
        return pod["status"].get("podIP") if pod["status"].get("phase") == "Running" else None
    return cluster.wait_for(f"pod {ns}/{name} Running", running, timeout)


def probe(cluster, values: str, ns: str, pod: str, source: str, targets: list[tuple[str, int, str, str]],
          container: str = "client") -> list[str]:
    """Connect from `pod` to each (host, port, label, expected) target; record the results in
    MATRIX and return them in order."""
    out = cluster.exec(ns, pod, "python", "-c", PROBE, json.dumps([[h, p] for h, p, _, _ in targets]),
                       str(CONNECT_TIMEOUT), container=container).stdout
    results = json.loads(out.strip().splitlines()[-1])
    for (_, _, label, expected), (result, ms) in zip(targets, results):
        MATRIX.append((values, source, label, expected, result, ms))
    return [r for r, _ in results]


def listening_ports(cluster, ns: str, pod: str, container: str = "pytorch") -> list[int]:
    return json.loads(cluster.exec(ns, pod, "python", "-c", LISTENING, container=container).stdout)


# -- the agent's rules ------------------------------------------------------------------------
def netfilter(cluster) -> str:
    """The filter table of the node's namespace, with packet counters."""
    return subprocess.run(["nsenter", f"--net=/run/netns/{cluster.netns}", "--", "iptables-save", "-c", "-t", "filter"],
                          check=True, capture_output=True, text=True).stdout


def wait_enforced(cluster, ns: str, pods: list[str], timeout: float = 60) -> None:
    """Until kube-router has a firewall chain for each pod (its rules name the pod)."""
    def programmed():
        rules = netfilter(cluster)
        return all(f"POD name:{p} namespace: {ns} " in rules for p in pods)
    cluster.wait_for(f"kube-router's chains for {', '.join(pods)} in {ns}", programmed, timeout, interval=0.5)


def rejected(cluster, ns: str, pod: str) -> int:
    """Packets kube-router's REJECT rule turned away for a pod (in or out)."""
    mark = f"rule to REJECT traffic destined for POD name:{pod} namespace: {ns}\""
    return sum(int(m.group(1)) for line in netfilter(cluster).splitlines() if mark in line
               for m in [re.match(r"\[(\d+):\d+\]", line)] if m)


def stand_in_tensorboard(cluster, r) -> dict:
    """No TensorBoard image is built here (docs/images.md): give the sidecar the chart renders
    a Python HTTP server on the same port, and return the pod once it serves. The Service, its
    port and selector, and the NetworkPolicy stay the chart's."""
    deploy = cluster.get("deployment", f"{r.name}-pytorch", "-n", r.ns)
    index = [c["name"] for c in deploy["spec"]["template"]["spec"]["initContainers"]].index("tensorboard")
    path = f"/spec/template/spec/initContainers/{index}"
    cluster.kubectl("patch", "deployment", f"{r.name}-pytorch", "-n", r.ns, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": f"{path}/command", "value": ["python", "-m", "http.server", "-d", "/tmp"]},
        {"op": "replace", "path": f"{path}/args", "value": ["--bind", "0.0.0.0", str(TENSORBOARD_PORT)]}]))

    def serving():
        return [p for p in r.pods() if any(s["name"] == "tensorboard" and s.get("started")
                                           for s in p["status"].get("initContainerStatuses", []))]
    [pod] = cluster.wait_for("the TensorBoard stand-in serving", serving, 240, interval=0.5)
    return pod


@pytest.mark.parametrize("values", CASES)
def test_should_allow_and_refuse_connects_as_the_policy_says(values, namespace, images, node_cluster):
    """A standalone release with TensorBoard (tb) and a metrics port; two pods outside it (one
    labelled as its client) and a scraper in another namespace. Every connect is to a port that
    listens, so a refusal is the policy's."""
    restricted = values == "restricted"
    ok, no, refused = "allowed", "refused", "Connection refused"
    ns, scraper_ns = namespace(restricted=True), namespace(restricted=True)
    # With allowExternal=false, a scraper of another namespace reaches the metrics port through
    # an extra ingress rule naming its namespace.
    extra = {"networkPolicy.extraIngress": [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": scraper_ns}}}],
        "ports": [{"port": METRICS_PORT, "protocol": "TCP"}]}]} if restricted else None
    repository, tag = image_ref("pytorch")
    tb = Release(node_cluster, ns, "tb", [*images, "examples.enabled=true", "persistence.enabled=false",
                                          "entrypoint.args=--epochs 1000 --steps 10 --step-seconds 1",
                                          "metrics.enabled=true", f"metrics.port={METRICS_PORT}",
                                          "tensorboard.enabled=true", f"tensorboard.port={TENSORBOARD_PORT}",
                                          f"tensorboard.image.registry={REGISTRY}",
                                          f"tensorboard.image.repository={repository}",
                                          f"tensorboard.image.tag={tag}", *CASES[values]])
    client_pod(node_cluster, ns, "outsider")
    client_pod(node_cluster, ns, "client", labels={"tb-pytorch-client": "true"})
    client_pod(node_cluster, scraper_ns, "scraper")
    tb.install(wait=False, values=extra)
    pod = stand_in_tensorboard(node_cluster, tb)["metadata"]["name"]
    ips = {n: pod_ip(node_cluster, ns, n) for n in ("outsider", "client", pod)}
    pod_ip(node_cluster, scraper_ns, "scraper")
    wait_enforced(node_cluster, ns, [pod])
    # A listener on the metrics port (the example script serves no metrics).
    listener = subprocess.Popen(["nsenter", f"--net=/run/netns/{node_cluster.netns}", "--", str(BIN / "kubectl"),
                                 "exec", "-n", ns, pod, "-c", "pytorch", "--", "python", "-c", LISTENER,
                                 str(METRICS_PORT), "300"], env=node_cluster.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        node_cluster.wait_for("the metrics listener", lambda: METRICS_PORT in listening_ports(
            node_cluster, ns, pod), 120, interval=1)
        refused_before = rejected(node_cluster, ns, pod)
        # TensorBoard through its Service: the name resolves to the ClusterIP, kube-proxy routes it.
        cluster_ip = node_cluster.get("service", "tb-pytorch-tensorboard", "-n", ns)["spec"]["clusterIP"]
        assert cluster_ip.startswith("10.96.")
        got = probe(node_cluster, values, ns, "client", "pod labelled client", [
            (f"dns:tb-pytorch-tensorboard.{ns}.svc.cluster.local", TENSORBOARD_PORT, "TensorBoard Service name", ok),
            (cluster_ip, TENSORBOARD_PORT, "TensorBoard Service (ClusterIP)", ok),
            (ips[pod], METRICS_PORT, "metrics port", ok)])
        assert got == ["resolved", "connected", "connected"], got
        got = probe(node_cluster, values, ns, "outsider", "pod outside release", [
            (cluster_ip, TENSORBOARD_PORT, "TensorBoard Service (ClusterIP)", no if restricted else ok),
            (ips[pod], METRICS_PORT, "metrics port", no if restricted else ok)])
        assert got == ([refused] * 2 if restricted else ["connected"] * 2), got
        got = probe(node_cluster, values, scraper_ns, "scraper", "pod, other namespace", [
            (ips[pod], METRICS_PORT, "metrics port", ok)])
        assert got == ["connected"], got
        # Egress of the release's pod: anywhere (default), or the release and DNS only (restricted).
        got = probe(node_cluster, values, ns, pod, "the release's pod", [
            (f"dns:tb-pytorch-tensorboard.{ns}.svc.cluster.local", TENSORBOARD_PORT, "DNS lookup (CoreDNS)", ok),
            (NODE_IP, 53, "node IP, DNS port 53/TCP", ok),
            (ips["outsider"], OUTSIDER_PORT, "pod outside release", no if restricted else ok),
            (NODE_IP, KUBELET_PORT, "node IP, kubelet 10250", no if restricted else ok)], container="pytorch")
        assert got == ["resolved", "connected", *([refused] * 2 if restricted else ["connected"] * 2)], got
        # The refusals were the agent's: its REJECT rule for the pod counted them.
        assert rejected(node_cluster, ns, pod) >= refused_before + (4 if restricted else 0)
    finally:
        listener.kill()
        listener.wait()
