"""Watch one namespace's pods and record when each is created, scheduled, Running and Ready.

Runs as a process of its own inside the control plane's network namespace (kubeclient.py),
so that the benchmark sees each pod change as the API server
sends it instead of polling lists of 1,000 pods:

    python podwatch.py KUBECONFIG NAMESPACE COUNT TIMEOUT

It lists the namespace, opens a watch from that list's resourceVersion and prints
`watching` once the API server has accepted the watch; the caller submits the workload
after that line. When COUNT pods are Running and Ready at once (or after TIMEOUT
seconds) it prints one JSON object and exits (1 on timeout):

    {"created": [t, ...], "scheduled": [...], "running": [...], "ready": [...],
     "all_running": t, "all_ready": t, "pods": n, "most_starting": k,
     "timed_out": false}

The watcher runs at a higher priority (nice -10) so that it keeps up on a loaded machine; if
the API server still ends the watch because it fell behind, it resumes from the last
resourceVersion it saw. Every t is time.monotonic() when the event arrived: CLOCK_MONOTONIC is one clock for all
processes of the machine, so the caller subtracts its own submit time. The lists hold the
first time each pod reached the state, sorted; k is the largest number of pods that existed but did
not run yet at one time (1 when ranks are started one after the other). Pods never leave Running on the benchmark's
simulated nodes (their kwok has no pod-complete stage: hack/bench/up.sh), so "all N Running" is the moment the last rank
started.
"""
from __future__ import annotations

import json
import os
import sys
import time
from urllib.parse import urlencode

from kubeclient import connect


class Pods:
    """Per pod: the first time it was seen, scheduled, Running, Ready; and its state now."""

    STAGES = ("created", "scheduled", "running", "ready")

    def __init__(self) -> None:
        self.first: dict[str, dict[str, float]] = {s: {} for s in self.STAGES}
        self.now: dict[str, tuple[bool, bool]] = {}   # name -> (running, ready), live pods only

    def update(self, pod: dict, t: float, deleted: bool = False) -> None:
        name = pod["metadata"]["name"]
        if deleted:
            self.now.pop(name, None)
            return
        status = pod.get("status") or {}
        running = status.get("phase") == "Running"
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        self.now[name] = (running, ready)
        for stage, reached in (("created", True), ("scheduled", bool((pod.get("spec") or {}).get("nodeName"))),
                               ("running", running), ("ready", ready)):
            if reached:
                self.first[stage].setdefault(name, t)

    def counts(self) -> tuple[int, int]:
        return (sum(r for r, _ in self.now.values()), sum(r for _, r in self.now.values()))


def main(kubeconfig: str, namespace: str, count: int, timeout: float) -> int:
    try:
        os.nice(-10)   # keep up with the API server when other work loads the machine
    except OSError:
        pass
    deadline = time.monotonic() + timeout
    conn = connect(kubeconfig, timeout=timeout + 60)
    path = f"/api/v1/namespaces/{namespace}/pods"
    pods = Pods()

    def relist() -> str:
        conn.request("GET", path)
        resp = conn.getresponse()
        listed = json.loads(resp.read())
        if resp.status != 200:
            raise RuntimeError(f"listing pods: {listed}")
        t = time.monotonic()
        pods.now.clear()
        for item in listed.get("items", []):
            pods.update(item, t)
        return listed["metadata"]["resourceVersion"]

    def watch(rv: str):
        query = urlencode({"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true",
                           "timeoutSeconds": str(int(timeout) + 5)})
        conn.request("GET", f"{path}?{query}")
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"watching pods: {resp.read().decode()[:2000]}")
        return resp

    rv = relist()
    resp = watch(rv)
    print("watching", flush=True)
    all_running = all_ready = None
    most_starting = 0
    while time.monotonic() < deadline and (all_running is None or all_ready is None):
        line = resp.readline()
        t = time.monotonic()
        if not line:
            # The API server ends a watch whose reader falls behind; resume where it stopped.
            resp = watch(rv)
            continue
        event = json.loads(line)
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") != 410:
                print(json.dumps({"error": obj}), flush=True)
                return 2
            rv = relist()   # too far behind for the watch cache: list again
            resp = watch(rv)
            continue
        rv = obj["metadata"]["resourceVersion"]
        if kind == "BOOKMARK":
            continue
        pods.update(obj, t, deleted=kind == "DELETED")
        running, ready = pods.counts()
        most_starting = max(most_starting, len(pods.now) - running)
        if all_running is None and running >= count:
            all_running = t
        if all_ready is None and ready >= count:
            all_ready = t
    result = {stage: sorted(pods.first[stage].values()) for stage in Pods.STAGES}
    result.update(all_running=all_running, all_ready=all_ready, pods=len(pods.now),
                  most_starting=most_starting,
                  timed_out=all_ready is None or all_running is None)
    print(json.dumps(result), flush=True)
    return 1 if result["timed_out"] else 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
