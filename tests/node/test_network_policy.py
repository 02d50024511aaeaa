"""The chart's NetworkPolicy, enforced on the real node by kube-router (docs/network-policy.md).

Proves (running containers, a real NetworkPolicy agent), with the default values and with
`networkPolicy.allowExternal=false` + `allowExternalEgress=false`: TensorBoard is reached
through its Service (a ClusterIP, routed by kube-proxy); a pod of another namespace reaches
the metrics port where the values allow it; a pod outside the release reaches the exposed
ports only where the values allow it (with allowExternal=false only when labelled as a
client); with allowExternalEgress=false the release's pod reaches DNS but not a pod outside
the release nor the kubelet. 4 ranks train under the policy with both launchers (python;
torchrun 2x2); a pod outside the release, labelled as a client or
not, is refused a port that pod 1 picked at run time (a gloo port). Negative control: the
restricted policy less its rules for the release's own pods stops the rendezvous.

Every connect is made from inside a pod with a short timeout, to a port that listens; its
result and time are kept and printed as the enforcement matrix at the end of the run, and the
agent's REJECT rule must have counted the refusals.
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
# 4 ranks: 4 pods of one python process, or torchrun's 2 pods of 2 workers.
LAUNCHERS = {"python": ("worldSize=4",),
             "torchrun": ("worldSize=2", "launcher=torchrun", "torchrun.nprocPerNode=2")}
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
    lines = [f"  {'values':<24} {'from':<22} {'to':<34} {'expected':<9} {'measured':<19} {'ms':>9}"]
    lines += [f"  {v:<24} {s:<22} {d:<34} {e:<9} {m:<19} {ms:9.1f}" for v, s, d, e, m, ms in MATRIX]
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


def connect(cluster, ns: str, pod: str, targets: list[tuple[str, int]], container: str) -> list[tuple[str, float]]:
    """Connect from `pod` to each (host, port): (result, milliseconds) per target, in order."""
    out = cluster.exec(ns, pod, "python", "-c", PROBE, json.dumps([[h, p] for h, p in targets]),
                       str(CONNECT_TIMEOUT), container=container).stdout
    return json.loads(out.strip().splitlines()[-1])


def probe(cluster, values: str, ns: str, pod: str, source: str, targets: list[tuple[str, int, str, str]],
          container: str = "client") -> list[str]:
    """Connect from `pod` to each (host, port, label, expected) target; record the results in
    MATRIX and return them in order."""
    results = connect(cluster, ns, pod, [(h, p) for h, p, _, _ in targets], container)
    for (_, _, label, expected), (result, ms) in zip(targets, results):
        MATRIX.append((values, source, label, expected, result, ms))
    return [r for r, _ in results]


def listening_ports(cluster, ns: str, pod: str, container: str = "pytorch") -> list[int]:
    return json.loads(cluster.exec(ns, pod, "python", "-c", LISTENING, container=container).stdout)


def picked_ports(cluster, ns: str, pod: str, timeout: float = 300) -> list[int]:
    """The ports a rank's pod listens on that the chart did not pick (gloo's, of every process
    in the pod): polled until one appears."""
    def picked():
        return [p for p in listening_ports(cluster, ns, pod) if p != MASTER_PORT]
    return cluster.wait_for(f"{ns}/{pod} listening on a port picked at run time", picked, timeout, interval=1)


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


def assert_counted(cluster, ns: str, pod: str, src: str, host: str, port: int,
                   container: str = "client", tries: int = 3) -> None:
    """Connect once more from `src` (a pod in `ns` too) to host:port, expect a refusal, and
    require that the agent's REJECT rule for `pod` counted it. kube-router rewrites its chains,
    and so zeroes their counters, whenever a pod, namespace or policy changes (a replaced pod
    going away is enough); a rewrite between the two reads makes the count fall or stay, so the
    connect is tried again, up to `tries` times. A rule that never counts fails every try."""
    seen = []
    for _ in range(tries):
        before = rejected(cluster, ns, pod)
        [(result, _)] = connect(cluster, ns, src, [(host, port)], container)
        assert result == "Connection refused", (src, host, port, result)
        after = rejected(cluster, ns, pod)
        seen.append((before, after))
        if after > before:
            return
    pytest.fail(f"{src} -> {host}:{port} was refused, but the REJECT rule for {ns}/{pod} did not count it "
                f"in {tries} tries (counter before, after: {seen})")


def stand_in_tensorboard(cluster, r) -> dict:
    """No TensorBoard image is built here (docs/images.md): give the sidecar the chart renders
    a Python HTTP server on the same port, and return the pod once it serves and is Ready (the
    Service has no endpoint before that, and kube-proxy rejects a connect to its ClusterIP).
    The Service, its port and selector, and the NetworkPolicy stay the chart's."""
    deploy = cluster.get("deployment", f"{r.name}-pytorch", "-n", r.ns)
    index = [c["name"] for c in deploy["spec"]["template"]["spec"]["initContainers"]].index("tensorboard")
    path = f"/spec/template/spec/initContainers/{index}"
    cluster.kubectl("patch", "deployment", f"{r.name}-pytorch", "-n", r.ns, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": f"{path}/command", "value": ["python", "-m", "http.server", "-d", "/tmp"]},
        {"op": "replace", "path": f"{path}/args", "value": ["--bind", "0.0.0.0", str(TENSORBOARD_PORT)]}]))

    def serving():
        pods = r.pods()
        ready = [p for p in pods
                 if any(s["name"] == "tensorboard" and s.get("started")
                        for s in p["status"].get("initContainerStatuses", []))
                 and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
        # ... and the pod of the unpatched template deleted, so that fewer pod changes make the
        # agent rewrite its chains during the connects (assert_counted copes with the rest).
        return ready if len(pods) == 1 else None
    [pod] = cluster.wait_for("the TensorBoard stand-in serving, alone", serving, 240, interval=0.5)
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
        # The refusals were the agent's: its REJECT rule for the pod counts each of them.
        if restricted:
            assert_counted(node_cluster, ns, pod, "outsider", cluster_ip, TENSORBOARD_PORT)
            assert_counted(node_cluster, ns, pod, "outsider", ips[pod], METRICS_PORT)
            assert_counted(node_cluster, ns, pod, pod, ips["outsider"], OUTSIDER_PORT, container="pytorch")
            assert_counted(node_cluster, ns, pod, pod, NODE_IP, KUBELET_PORT, container="pytorch")
    finally:
        listener.kill()
        listener.wait()


# -- training under enforcement ---------------------------------------------------------------
def training(*extra: str) -> tuple[str, ...]:
    """A distributed release (4 ranks) with the test's master port and no claim."""
    return ("mode=distributed", "examples.enabled=true", "persistence.enabled=false", f"port={MASTER_PORT}",
            *extra)


# make test trains one case (default values, python); the other three are `make enforce-test`
# (marker enforce_matrix): each costs minutes of torch start-up on a small machine.
TRAINING_CASES = [pytest.param(values, launcher, id=f"{values}-{launcher}",
                               marks=() if (values, launcher) == ("default", "python") else pytest.mark.enforce_matrix)
                  for values in CASES for launcher in LAUNCHERS]


@pytest.mark.parametrize("values,launcher", TRAINING_CASES)
def test_should_train_and_refuse_the_ranks_ports_to_pods_outside_the_release(values, launcher, namespace,
                                                                             images, node_cluster):
    """A release of 4 ranks trains under the policy (`helm test` under it: test_preflight.py).
    While it trains, a pod outside the release is refused a port that pod 1's processes picked at run time (rank
    1's gloo port; with torchrun, a gloo port of pod 1's workers), which rank 0 then reaches:
    the port listened, the refusal is the policy's. The master port is open to it only with
    allowExternal, and always to a pod labelled as a client, but never the picked port."""
    from .test_training import results
    restricted = values == "restricted"
    ok, no, refused = "allowed", "refused", "Connection refused"
    ns = namespace(restricted=True)
    client_pod(node_cluster, ns, "outsider")
    client_pod(node_cluster, ns, "client", labels={"t-pytorch-client": "true"})
    r = Release(node_cluster, ns, "t", [*images, *training(
        *LAUNCHERS[launcher], "entrypoint.args=--epochs 1 --steps 40 --step-seconds 0.5"), *CASES[values]])
    r.install(wait=False)
    pods = [f"t-pytorch-{i}" for i in range(4 if launcher == "python" else 2)]
    ips = {n: pod_ip(node_cluster, ns, n) for n in ("outsider", "client", *pods)}
    wait_enforced(node_cluster, ns, pods)

    [picked, *_] = picked_ports(node_cluster, ns, "t-pytorch-1")
    label = "rank 1 gloo port" if launcher == "python" else "pod 1 worker's gloo port"
    rows = f"{values}, {launcher}"
    got = probe(node_cluster, rows, ns, "outsider", "pod outside release", [
        (ips["t-pytorch-1"], picked, label, no),
        (ips["t-pytorch-0"], MASTER_PORT, "rank 0 master port", no if restricted else ok)])
    assert got == [refused, refused if restricted else "connected"], got
    got = probe(node_cluster, rows, ns, "client", "pod labelled client", [
        (ips["t-pytorch-1"], picked, label, no),
        (ips["t-pytorch-0"], MASTER_PORT, "rank 0 master port", ok)])
    assert got == [refused, "connected"], got
    got = probe(node_cluster, rows, ns, "t-pytorch-0", "pod 0 (same release)", [
        (ips["t-pytorch-1"], picked, label, ok)], container="pytorch")
    assert got == ["connected"], got
    # The refusals of the picked port were the agent's: its REJECT rule for pod 1 counts them.
    for src in ("outsider", "client"):
        assert_counted(node_cluster, ns, "t-pytorch-1", src, ips["t-pytorch-1"], picked)

    _, found = results(node_cluster, r, 4)
    if launcher == "python":
        assert sorted(f["rank"] for f in found) == [0, 1, 2, 3]
    else:
        assert sorted((f["rank"], f["local_rank"]) for f in found) == [(0, 0), (1, 1), (2, 0), (3, 1)]
    assert all(f["ok"] is True and f["world_size"] == 4 and f["steps"] == 40 for f in found), found
    joined = max(f["t_init_end"] for f in found)
    MATRIX.append((rows, "4 ranks", "each other (rendezvous)", ok, "4 ranks trained",
                   round((joined - r.installed_at) * 1000, 1)))


def test_should_not_rendezvous_without_the_rules_for_the_releases_own_pods(release, node_cluster):
    """The negative control, with the restricted values: the chart's policy less its rules for
    the release's own pods (the ingress rule from them and the egress rule to them, any TCP
    port) is applied, and the release is installed without its own. A rank may then send
    nothing but DNS, so no rank reaches rank 0's store at the master port, and every rank fails
    within the rendezvous timeout (60 s) without joining. (With the default values, removing
    the ingress rule alone is not enough on kube-router: docs/network-policy.md.)"""
    r = release(*training("worldSize=4", "entrypoint.args=--epochs 1 --steps 10 --timeout 30 "
                          "--rendezvous-timeout 60"), *RESTRICTED)
    rendered = node_cluster.helm("template", r.name, str(ROOT), "-n", r.ns,
                                 *[a for s in r.sets for a in ("--set", s)]).stdout
    [policy] = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "NetworkPolicy"]
    own = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "t"}}}
    assert policy["spec"]["ingress"].pop(0) == {"from": [own], "ports": [{"protocol": "TCP"}]}
    assert policy["spec"]["egress"].pop(1) == {"to": [own], "ports": [{"protocol": "TCP"}]}
    node_cluster.apply(json.dumps(policy))
    pods = [f"t-pytorch-{i}" for i in range(4)]
    r.install("networkPolicy.enabled=false", wait=False)

    def failed():
        out = []
        for p in r.pods():
            status = p["status"].get("containerStatuses", [{}])[0]
            ended = status.get("state", {}).get("terminated") or status.get("lastState", {}).get("terminated")
            if ended and ended["exitCode"] != 0:
                out.append(p["metadata"]["name"])
        return out if len(out) == 4 else None
    ended = node_cluster.wait_for("every rank failing to rendezvous", failed, 300, interval=1)
    seconds = time.time() - r.installed_at
    logs = "".join(node_cluster.logs(r.ns, n, previous=True) + node_cluster.logs(r.ns, n) for n in pods)
    assert "DDP_RESULT " not in logs and " joined the process group " not in logs, logs[-3000:]
    assert logs.count("starting on t-pytorch-") >= 4, logs[-3000:]
    # The agent refused the ranks' connects: its REJECT rules for them counted packets.
    assert sum(rejected(node_cluster, r.ns, n) for n in pods) > 0
    MATRIX.append(("restricted, no own rules", "4 ranks", "rank 0 master port (rendezvous)", "refused",
                   f"{len(ended)} ranks failed", round(seconds * 1000, 1)))
