"""The real node's network stays inside the cluster's own network namespace.

Proves (running containers + the namespace's links and routes): the namespace has lo, the
pod bridge and the pods' veths, and no other interface; its only route is the pod /24 (the
bridge plugin turns forwarding on, but there is nowhere to forward to); no interface outside
it has a pod-network address; a pod can reach the node's CoreDNS, but any address outside
the pod network is unreachable from it, refused by its routing table before a packet is sent.
"""
from __future__ import annotations

import ipaddress
import json
import subprocess

import pytest

pytestmark = pytest.mark.node

POD_CIDR = ipaddress.ip_network("10.245.0.0/24")   # hack/cluster/lib.sh
PROBE = ("import socket, sys\n"
         "for host, port in (('10.245.0.1', 53), ('8.8.8.8', 53), ('192.168.1.1', 80)):\n"
         "    s = socket.socket(); s.settimeout(3)\n"
         "    try: s.connect((host, port)); print(host, 'connected')\n"
         "    except OSError as e: print(host, e.strerror)\n")


def ip_json(*args: str, netns: str | None = None):
    prefix = ["nsenter", f"--net=/run/netns/{netns}", "--"] if netns else []
    return json.loads(subprocess.run([*prefix, "ip", "-j", *args], check=True, text=True,
                                     capture_output=True).stdout or "[]")


def test_should_keep_pods_and_their_network_inside_the_namespace(release, node_cluster):
    r = release()
    r.install()
    [pod] = r.pods()
    assert ipaddress.ip_address(pod["status"]["podIP"]) in POD_CIDR

    links = ip_json("link", "show", netns=node_cluster.netns)
    kinds = {link["ifname"]: link.get("linkinfo", {}).get("info_kind", "") for link in
             ip_json("-d", "link", "show", netns=node_cluster.netns)}
    assert {l["ifname"] for l in links if not l["ifname"].startswith("veth")} == {"lo", "cni0"}
    assert kinds["cni0"] == "bridge"
    veths = [l for l in links if l["ifname"].startswith("veth")]
    assert veths and all(kinds[l["ifname"]] == "veth" and l.get("master") == "cni0" for l in veths)
    routes = ip_json("route", "show", netns=node_cluster.netns)
    assert [(r["dst"], r["dev"]) for r in routes] == [(str(POD_CIDR), "cni0")]

    # On the host, no interface carries a pod-network address and no route leads there.
    host_addrs = [a["local"] for i in ip_json("addr", "show") for a in i.get("addr_info", []) if a["family"] == "inet"]
    assert not [a for a in host_addrs if ipaddress.ip_address(a) in POD_CIDR]
    assert not [r for r in ip_json("route", "show") if r["dst"] != "default"
                and ipaddress.ip_network(r["dst"], strict=False).overlaps(POD_CIDR)]

    out = node_cluster.exec(r.ns, pod["metadata"]["name"], "python", "-c", PROBE).stdout.splitlines()
    assert out == ["10.245.0.1 connected", "8.8.8.8 Network is unreachable",
                   "192.168.1.1 Network is unreachable"]
