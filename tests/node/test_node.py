"""The real node itself: what joined the control plane.

Proves (API server + the node's own report): node0 is Ready and runs the pinned kubelet
and containerd, its InternalIP is on the pod bridge, and it is the only node.
"""
from __future__ import annotations

import pytest

from harness.tools import pinned_versions

pytestmark = pytest.mark.node


def test_should_join_one_real_node_with_the_pinned_kubelet_and_containerd(node_cluster):
    pins = pinned_versions()
    [node] = node_cluster.get("nodes")["items"]
    info = node["status"]["nodeInfo"]
    assert node["metadata"]["name"] == "node0"
    assert info["kubeletVersion"] == pins["KUBERNETES_VERSION"]
    assert info["containerRuntimeVersion"] == f"containerd://{pins['CONTAINERD_VERSION'].removeprefix('v')}"
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"
    assert [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"] == ["10.245.0.1"]
