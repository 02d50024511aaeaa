"""Probes on the real node: the kubelet runs them in the container.

Proves (running container): the default probes pass (see test_security); a failing
custom readiness probe keeps the pod unready without restarting it; a failing custom
liveness probe makes the kubelet restart the container.
"""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.node

FAILING = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 1}


def test_should_keep_the_pod_unready_when_the_readiness_probe_fails(release, node_cluster):
    r = release()
    r.install(wait=False, values={"customReadinessProbe": FAILING})
    pod = node_cluster.wait_for("the container to run", lambda: next(
        (p for p in r.pods() if p["status"].get("containerStatuses", [{}])[0].get("state", {}).get("running")), None))
    started = time.monotonic()
    while time.monotonic() - started < 8:
        [pod] = r.pods()
        st = pod["status"]["containerStatuses"][0]
        assert st["ready"] is False and st["restartCount"] == 0
        time.sleep(1)
    cond = {c["type"]: c for c in pod["status"]["conditions"]}
    assert cond["Ready"]["status"] == "False" and cond["ContainersReady"]["reason"] == "ContainersNotReady"


def test_should_restart_the_container_when_the_liveness_probe_fails(release, node_cluster):
    r = release()
    r.install(wait=False, values={"customLivenessProbe": {**FAILING, "initialDelaySeconds": 1}})

    def restarted():
        pods = r.pods()
        return pods and pods[0]["status"].get("containerStatuses", [{}])[0].get("restartCount", 0) >= 1
    node_cluster.wait_for("a liveness restart", restarted, timeout=90)
    events = node_cluster.kubectl("get", "events", "-n", r.ns, "-o", "jsonpath={.items[*].message}").stdout
    assert "failed liveness probe, will be restarted" in events
