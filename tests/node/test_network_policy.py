"""The chart's NetworkPolicy, enforced on the real node by kube-router (docs/network-policy.md).

Proves (running containers, a real NetworkPolicy agent): with the default values and with
`networkPolicy.allowExternal=false` + `allowExternalEgress=false`, 4 ranks train with both
launchers (python; torchrun 2x2, whose workers listen on ports picked at run time) and
`helm test` passes; TensorBoard is reached through its Service (a ClusterIP, routed by
kube-proxy); a pod of another namespace reaches the metrics port where the values allow it.
A pod outside the release cannot connect to rank 1's gloo or worker ports, nor (with
allowExternal=false, unless labelled as a client) to the master port; with
allowExternalEgress=false a rank reaches nothing outside the release but DNS. Negative
control: the same release with the policy's rule for the release's own pods removed does
not rendezvous, so the agent enforces at all.

Every connect is made from inside a pod with a short timeout; its result and time are kept
and printed as the enforcement matrix at the end of the run. A refusal is only counted
where the same port answers a peer that the policy allows, so "refused" is the policy and
not a closed port.
"""
from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
import yaml

from harness.images import REGISTRY, image_ref
from harness.tools import BIN, ROOT

from .conftest import Release

pytestmark = pytest.mark.node

MASTER_PORT, METRICS_PORT, TENSORBOARD_PORT, OUTSIDER_PORT = 29612, 9412, 6106, 8081
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


def worker_ports(cluster, ns: str, pod: str, known: set[int], timeout: float = 240) -> list[int]:
    """The ports a rank's processes listen on that the chart did not pick (gloo's, torchrun's
    workers'): polled until one appears."""
    def picked():
        return [p for p in listening_ports(cluster, ns, pod) if p not in known]
    return cluster.wait_for(f"{ns}/{pod} listening on a port picked at run time", picked, timeout, interval=0.5)


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


# -- releases ---------------------------------------------------------------------------------
def training(*extra: str) -> tuple[str, ...]:
    """A distributed release with the test's ports; its training (args) lasts long enough
    past the process group for the connects to meet the ports it opened."""
    return ("mode=distributed", "examples.enabled=true", "persistence.enabled=false", f"port={MASTER_PORT}",
            "metrics.enabled=true", f"metrics.port={METRICS_PORT}", *extra)


def results(cluster, r, expected: int, timeout: float = 300) -> list[dict]:
    from .test_training import results as ddp_results
    return ddp_results(cluster, r, expected, timeout)[1]


def helm_test_passes(cluster, r) -> None:
    out = cluster.helm("test", r.name, "-n", r.ns, "--logs", timeout=240).stdout
    assert "Phase:          Succeeded" in out, out
    master = f"{r.name}-pytorch-0.{r.name}-pytorch-headless.{r.ns}.svc.cluster.local:{MASTER_PORT}"
    assert f"{master} resolves to ['10.245.0." in out, out


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
def test_should_train_and_refuse_what_the_policy_does_not_allow(values, namespace, images, node_cluster):
    """Three releases in one namespace, at once: 4 python ranks (t), torchrun 2x2 (tr) and a
    standalone pod with TensorBoard (tb); two pods outside them (one labelled as a client of
    each release) and a scraper in another namespace."""
    restricted = values == "restricted"
    ok, no, refused = "allowed", "refused", "Connection refused"
    ns, scraper_ns = namespace(restricted=True), namespace(restricted=True)
    # With allowExternal=false, a scraper of another namespace reaches the metrics port through
    # an extra ingress rule naming its namespace.
    extra = {"networkPolicy.extraIngress": [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": scraper_ns}}}],
        "ports": [{"port": METRICS_PORT, "protocol": "TCP"}]}]} if restricted else None
    repository, tag = image_ref("pytorch")
    t = Release(node_cluster, ns, "t", [*images, *training(
        "worldSize=4", "entrypoint.args=--epochs 2 --steps 20 --step-seconds 1"), *CASES[values]])
    tr = Release(node_cluster, ns, "tr", [*images, *training(
        "worldSize=2", "launcher=torchrun", "torchrun.nprocPerNode=2",
        "entrypoint.args=--epochs 2 --steps 20 --step-seconds 1"), *CASES[values]])
    tb = Release(node_cluster, ns, "tb", [*images, "examples.enabled=true", "persistence.enabled=false",
                                          "entrypoint.args=--epochs 1000 --steps 10 --step-seconds 1",
                                          "tensorboard.enabled=true", f"tensorboard.port={TENSORBOARD_PORT}",
                                          f"tensorboard.image.registry={REGISTRY}",
                                          f"tensorboard.image.repository={repository}",
                                          f"tensorboard.image.tag={tag}", *CASES[values]])
    client_pod(node_cluster, ns, "outsider")
    client_pod(node_cluster, ns, "client", labels={"t-pytorch-client": "true", "tb-pytorch-client": "true"})
    client_pod(node_cluster, scraper_ns, "scraper")
    t.install(wait=False, values=extra)
    tr.install(wait=False)
    tb.install(wait=False)
    tensorboard = stand_in_tensorboard(node_cluster, tb)
    ranks = [f"t-pytorch-{i}" for i in range(4)] + ["tr-pytorch-0", "tr-pytorch-1"]
    ips = {n: pod_ip(node_cluster, ns, n) for n in ("outsider", "client", *ranks)}
    pod_ip(node_cluster, scraper_ns, "scraper")
    wait_enforced(node_cluster, ns, [*ranks, tensorboard["metadata"]["name"]])

    # Ports picked at run time: rank 1's gloo port, and a torchrun worker's in tr's pod 1.
    [gloo, *_] = worker_ports(node_cluster, ns, "t-pytorch-1", {MASTER_PORT, METRICS_PORT})
    [worker, *_] = worker_ports(node_cluster, ns, "tr-pytorch-1", {MASTER_PORT, METRICS_PORT})
    # A listener on rank 1's metrics port (the example script serves no metrics).
    listener = subprocess.Popen(["nsenter", f"--net=/run/netns/{node_cluster.netns}", "--", str(BIN / "kubectl"),
                                 "exec", "-n", ns, "t-pytorch-1", "-c", "pytorch", "--", "python", "-c", LISTENER,
                                 str(METRICS_PORT), "120"], env=node_cluster.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        node_cluster.wait_for("rank 1's metrics listener", lambda: METRICS_PORT in listening_ports(
            node_cluster, ns, "t-pytorch-1"), 60, interval=0.5)
        refused_before = rejected(node_cluster, ns, "t-pytorch-1")
        got = probe(node_cluster, values, ns, "t-pytorch-0", "rank 0 (same release)", [
            (ips["t-pytorch-1"], gloo, "rank 1 gloo port", ok)], container="pytorch")
        assert got == ["connected"], got
        got = probe(node_cluster, values, ns, "tr-pytorch-0", "torchrun pod 0", [
            (ips["tr-pytorch-1"], worker, "torchrun pod 1 worker port", ok)], container="pytorch")
        assert got == ["connected"], got
        got = probe(node_cluster, values, ns, "outsider", "pod outside release", [
            (ips["t-pytorch-1"], gloo, "rank 1 gloo port", no),
            (ips["tr-pytorch-1"], worker, "torchrun pod 1 worker port", no),
            (ips["t-pytorch-0"], MASTER_PORT, "rank 0 master port", no if restricted else ok),
            (ips["t-pytorch-1"], METRICS_PORT, "rank 1 metrics port", no if restricted else ok)])
        assert got == [refused, refused, *([refused] * 2 if restricted else ["connected"] * 2)], got
        got = probe(node_cluster, values, ns, "client", "pod labelled client", [
            (ips["t-pytorch-1"], gloo, "rank 1 gloo port", no),
            (ips["t-pytorch-0"], MASTER_PORT, "rank 0 master port", ok)])
        assert got == [refused, "connected"], got
        got = probe(node_cluster, values, scraper_ns, "scraper", "pod, other namespace", [
            (ips["t-pytorch-1"], METRICS_PORT, "rank 1 metrics port", ok)])
        assert got == ["connected"], got
        # Egress of a rank: anywhere (default), or the release and DNS only (restricted).
        got = probe(node_cluster, values, ns, "t-pytorch-1", "rank 1", [
            (f"dns:t-pytorch-0.t-pytorch-headless.{ns}.svc.cluster.local", MASTER_PORT, "DNS lookup (CoreDNS)", ok),
            (NODE_IP, 53, "node IP, DNS port 53/TCP", ok),
            (ips["t-pytorch-0"], MASTER_PORT, "rank 0 master port", ok),
            (ips["outsider"], OUTSIDER_PORT, "pod outside release", no if restricted else ok),
            (NODE_IP, KUBELET_PORT, "node IP, kubelet 10250", no if restricted else ok)], container="pytorch")
        assert got == ["resolved", "connected", "connected", *([refused] * 2 if restricted else ["connected"] * 2)], got
        # The refusals were the agent's: its REJECT rule for rank 1 counted them.
        assert rejected(node_cluster, ns, "t-pytorch-1") >= refused_before + (5 if restricted else 2)
    finally:
        listener.kill()
        listener.wait()

    # TensorBoard through its Service: the name resolves to the ClusterIP, kube-proxy routes it.
    cluster_ip = node_cluster.get("service", "tb-pytorch-tensorboard", "-n", ns)["spec"]["clusterIP"]
    assert cluster_ip.startswith("10.96.")
    got = probe(node_cluster, values, ns, "client", "pod labelled client", [
        (f"dns:tb-pytorch-tensorboard.{ns}.svc.cluster.local", TENSORBOARD_PORT, "TensorBoard Service name", ok),
        (cluster_ip, TENSORBOARD_PORT, "TensorBoard Service (ClusterIP)", ok)])
    assert got == ["resolved", "connected"], got
    got = probe(node_cluster, values, ns, "outsider", "pod outside release", [
        (cluster_ip, TENSORBOARD_PORT, "TensorBoard Service (ClusterIP)", no if restricted else ok)])
    assert got == [refused if restricted else "connected"], got

    found = results(node_cluster, t, 4)
    assert sorted(f["rank"] for f in found) == [0, 1, 2, 3]
    assert all(f["ok"] is True and f["world_size"] == 4 and f["steps"] == 40 for f in found)
    found = results(node_cluster, tr, 4)
    assert sorted((f["rank"], f["local_rank"]) for f in found) == [(0, 0), (1, 1), (2, 0), (3, 1)]
    assert all(f["ok"] is True and f["world_size"] == 4 and f["steps"] == 40 for f in found)
    for r in (t, tr):
        helm_test_passes(node_cluster, r)


def test_should_not_rendezvous_when_the_rule_for_the_releases_own_pods_is_removed(release, node_cluster):
    """The negative control: the chart's policy less its first ingress rule (the release's pods
    to each other, any TCP port) is applied before the release, which is installed without its
    own. The master port stays open to every pod (the Service ports' rule), so the ranks meet
    at rank 0's store; gloo's connections between them, on ports picked at run time, are
    refused, and no rank gets past the process group."""
    r = release(*training("worldSize=4", "entrypoint.args=--epochs 2 --steps 15 --timeout 20"))
    rendered = node_cluster.helm("template", r.name, str(ROOT), "-n", r.ns,
                                 *[a for s in r.sets for a in ("--set", s)]).stdout
    [policy] = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "NetworkPolicy"]
    own = policy["spec"]["ingress"].pop(0)
    assert "podSelector" in own["from"][0] and own["ports"] == [{"protocol": "TCP"}]
    node_cluster.apply(json.dumps(policy))
    start = time.monotonic()
    r.install("networkPolicy.enabled=false", wait=False)

    def failed():
        return [n for n in (f"t-pytorch-{i}" for i in range(4)) if " failed at " in node_cluster.logs(r.ns, n)]
    ranks = node_cluster.wait_for("a rank failing to join the process group", failed, 240, interval=1)
    logs = "".join(node_cluster.logs(r.ns, f"t-pytorch-{i}") for i in range(4))
    assert "DDP_RESULT " not in logs and " joined the process group " not in logs, logs[-3000:]
    assert sum(rejected(node_cluster, r.ns, f"t-pytorch-{i}") for i in range(4)) > 0
    MATRIX.append(("no own rule", "rank -> rank", "gloo ports (rendezvous)", "refused",
                   f"{len(ranks)} rank(s) failed", (time.monotonic() - start) * 1000))
