"""The real Kueue controller (v0.17.0, bin/kueue) admits and queues the chart's releases.

Level: real controllers. Kueue runs next to a control plane of its own (hack/cluster/up.sh
kueue-..., then hack/cluster/kueue.sh): its CRDs and webhook configurations come from Kueue's
module, and the API server calls its mutating and validating webhooks over TLS on
127.0.0.1:9443 inside the network namespace. Pods are kwok's: a Job's pods complete at once,
except those annotated kwok.pytorch-chart.test/hold-running, which stay Running until the test
takes the annotation away (hack/cluster/up.sh adds it to kwok's pod-complete stage).

Each test makes its own namespace, LocalQueue and ClusterQueue with quota for 4 pods (`pods`
is a resource Kueue counts itself), so no state is shared between tests.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time

import pytest

from harness.tools import ROOT, tool

from .controlplane import HACK, CommandError, ControlPlane, names

pytestmark = pytest.mark.cluster

HOLD = "kwok.pytorch-chart.test/hold-running"
QUEUE = "kueue.x-k8s.io/queue-name"
TIMINGS: dict[str, float] = {}      # printed by tests/cluster/conftest.py


@pytest.fixture(scope="module")
def kueue(cluster_worker, helm_bin):
    """A control plane with Kueue running next to it; torn down after the module."""
    if not os.access(ROOT / "bin" / "kueue", os.X_OK):
        pytest.fail(f"bin/kueue is missing: run `make cluster-bins` (or `make setup`) in {ROOT} to build "
                    "sigs.k8s.io/kueue/cmd/kueue from the Go module proxy", pytrace=False)
    tool("kubectl")
    cp = ControlPlane(name="kueue" if cluster_worker == "master" else f"kueue-{cluster_worker}", nodes=2)
    try:
        cp.up()
        start = time.monotonic()
        proc = subprocess.run([str(HACK / "kueue.sh"), cp.name], text=True, capture_output=True, timeout=300)
        if proc.returncode != 0:
            raise CommandError([str(HACK / "kueue.sh"), cp.name], proc)
        TIMINGS["kueue ready (kueue.sh: CRDs, webhooks, /readyz, webhook probe)"] = time.monotonic() - start
        TIMINGS["control plane for Kueue up (up.sh)"] = cp.startup_seconds
    except Exception:
        cp.down()
        raise
    yield cp
    if os.environ.get("CLUSTER_KEEP") != "1":
        cp.down()


@pytest.fixture
def queue(kueue, request):
    """A fresh namespace (Pod Security `restricted`) with LocalQueue `training` on a ClusterQueue
    of its own with quota for 4 pods. Returns the namespace."""
    ns = f"kq-{request.node.name.lower().removeprefix('test_')[:20].strip('_').replace('_', '-')}-{os.getpid() % 1000}"
    kueue.create_namespace(ns)
    kueue.apply(f"""
apiVersion: kueue.x-k8s.io/v1beta2
kind: ResourceFlavor
metadata:
  name: default
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: ClusterQueue
metadata:
  name: {ns}
spec:
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {ns}
  resourceGroups:
    - coveredResources: [pods]
      flavors:
        - name: default
          resources:
            - name: pods
              nominalQuota: 4
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: LocalQueue
metadata:
  name: training
  namespace: {ns}
spec:
  clusterQueue: {ns}
""")
    kueue.wait_for("ClusterQueue active", lambda: _condition(kueue.get("clusterqueue", ns), "Active") == "True", 60)
    yield ns
    if os.environ.get("CLUSTER_KEEP") != "1":
        kueue.delete_namespace(ns)
        kueue.kubectl("delete", "clusterqueue", ns, "--ignore-not-found", "--wait=false", check=False)


def _condition(obj: dict, kind: str) -> str | None:
    return next((c["status"] for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), None)


def install(kueue, ns, release, *sets, hold=True):
    args = ["install", release, str(ROOT), "-n", ns, "--set", f"kueue.queueName=training"]
    if hold:
        args += ["--set-string", f"podAnnotations.{HOLD.replace('.', chr(92) + '.')}=true"]
    for s in sets:
        args += ["--set", s]
    return kueue.helm(*args)


JOB4 = ("mode=distributed", "worldSize=4", "job.enabled=true", "entrypoint.file=/workspace/train.py",
        "persistence.enabled=false")
STS4 = ("mode=distributed", "worldSize=4", "persistence.enabled=false")


def workload(kueue, ns, owner: str) -> dict | None:
    """The Kueue Workload of the object named `owner` (a Job, or a StatefulSet's pod group)."""
    items = kueue.get("workloads.kueue.x-k8s.io", "-n", ns)["items"]
    found = [w for w in items if any(r["name"] == owner for r in w["metadata"].get("ownerReferences", []))
             or w["metadata"].get("labels", {}).get("kueue.x-k8s.io/pod-group-name", "").endswith(owner)
             or owner in w["metadata"]["name"]]
    return found[0] if len(found) == 1 else None


def admitted(kueue, ns, owner):
    wl = workload(kueue, ns, owner)
    return wl if wl and _condition(wl, "Admitted") == "True" else None


def running(kueue, ns, release, count):
    pods = kueue.pods(ns, f"app.kubernetes.io/instance={release}")
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return live if len(live) == count and all(p["status"].get("phase") == "Running" for p in live) else None


def pending_for_quota(kueue, ns, owner):
    """The Workload, once Kueue has looked at it and refused it for quota."""
    wl = workload(kueue, ns, owner)
    if not wl or _condition(wl, "QuotaReserved") != "False" or _condition(wl, "Admitted") == "True":
        return None
    reserved = next(c for c in wl["status"]["conditions"] if c["type"] == "QuotaReserved")
    return wl if reserved["reason"] == "Pending" and "insufficient unused quota for pods" in reserved["message"] else None


@contextlib.contextmanager
def kueue_state_on_timeout(kueue, ns):
    """A wait that times out says what Kueue and the pods were doing: each Workload's
    conditions, each pod's phase and scheduling gates."""
    try:
        yield
    except AssertionError as err:
        lines = []
        try:
            for w in kueue.get("workloads.kueue.x-k8s.io", "-n", ns).get("items", []):
                conds = "; ".join(f"{c['type']}={c['status']} ({c.get('reason')}: {c.get('message', '')[:120]})"
                                  for c in w.get("status", {}).get("conditions", []))
                lines.append(f"workload {w['metadata']['name']}: {conds or 'no conditions'}")
            for p in kueue.pods(ns, "app.kubernetes.io/name=pytorch"):
                gates = [g["name"] for g in p["spec"].get("schedulingGates", [])]
                lines.append(f"pod {p['metadata']['name']}: {p['status'].get('phase')}, gates {gates}"
                             f"{', deleting' if p['metadata'].get('deletionTimestamp') else ''}")
        except Exception as failed:  # the diagnosis must not hide the timeout
            lines.append(f"(could not read it: {failed})")
        raise AssertionError(f"{err}\nKueue's state in {ns}:\n" + "\n".join(lines)) from None


def release_hold(kueue, ns, release):
    kueue.kubectl("annotate", "pods", "-n", ns, "-l", f"app.kubernetes.io/instance={release}", f"{HOLD}-")


def test_should_admit_one_job_and_hold_the_next_until_the_first_completes(kueue, queue):
    ns = queue
    t0 = time.monotonic()
    install(kueue, ns, "a", *JOB4)
    job_a = kueue.get("job", "a-pytorch", "-n", ns)
    assert job_a["metadata"]["labels"][QUEUE] == "training"
    assert QUEUE not in job_a["spec"]["template"]["metadata"]["labels"]
    kueue.wait_for("release a admitted", lambda: admitted(kueue, ns, "a-pytorch"), 60)
    pods_a = kueue.wait_for("4 ranks of a Running", lambda: running(kueue, ns, "a", 4), 60)
    TIMINGS["Kueue: install -> 4 ranks Running (admitted, unsuspended)"] = time.monotonic() - t0
    assert kueue.get("job", "a-pytorch", "-n", ns)["spec"]["suspend"] is False
    assert sorted(p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] for p in pods_a) == ["0", "1", "2", "3"]

    install(kueue, ns, "b", *JOB4)
    wl_b = kueue.wait_for("release b refused for quota", lambda: pending_for_quota(kueue, ns, "b-pytorch"), 60)
    reserved = next(c for c in wl_b["status"]["conditions"] if c["type"] == "QuotaReserved")
    assert reserved["message"].endswith("insufficient unused quota for pods in flavor default, 4 more needed"), reserved
    assert kueue.get("job", "b-pytorch", "-n", ns)["spec"]["suspend"] is True   # Kueue's webhook suspended it
    assert kueue.pods(ns, "app.kubernetes.io/instance=b") == []
    assert len(running(kueue, ns, "a", 4) or []) == 4                           # a still holds the quota

    t1 = time.monotonic()
    release_hold(kueue, ns, "a")                                                 # a's ranks exit 0
    kueue.wait_for("job a Complete", lambda: _condition(kueue.get("job", "a-pytorch", "-n", ns), "Complete") == "True", 60)
    kueue.wait_for("release b admitted", lambda: admitted(kueue, ns, "b-pytorch"), 60)
    pods_b = kueue.wait_for("4 ranks of b Running", lambda: running(kueue, ns, "b", 4), 60)
    TIMINGS["Kueue: a completes -> b's 4 ranks Running"] = time.monotonic() - t1
    assert names(pods_b) == sorted(p["metadata"]["name"] for p in pods_b)
    assert _condition(workload(kueue, ns, "a-pytorch"), "Finished") == "True"

    release_hold(kueue, ns, "b")
    kueue.wait_for("job b Complete", lambda: _condition(kueue.get("job", "b-pytorch", "-n", ns), "Complete") == "True", 60)


def test_should_admit_the_waiting_job_when_the_first_release_is_uninstalled(kueue, queue):
    ns = queue
    install(kueue, ns, "a", *JOB4)
    kueue.wait_for("4 ranks of a Running", lambda: running(kueue, ns, "a", 4), 60)
    install(kueue, ns, "b", *JOB4)
    kueue.wait_for("release b refused for quota", lambda: pending_for_quota(kueue, ns, "b-pytorch"), 60)
    assert kueue.pods(ns, "app.kubernetes.io/instance=b") == []

    t0 = time.monotonic()
    kueue.helm("uninstall", "a", "-n", ns, "--wait", "--timeout", "60s")
    kueue.wait_for("release b admitted", lambda: admitted(kueue, ns, "b-pytorch"), 60)
    kueue.wait_for("4 ranks of b Running", lambda: running(kueue, ns, "b", 4), 60)
    TIMINGS["Kueue: uninstall a -> b's 4 ranks Running"] = time.monotonic() - t0
    assert kueue.get("job", "b-pytorch", "-n", ns)["spec"]["suspend"] is False


def test_should_gate_a_statefulset_until_admitted_and_refuse_a_world_size_change(kueue, queue):
    ns = queue
    install(kueue, ns, "a", *STS4, hold=False)
    sts_a = kueue.get("statefulset", "a-pytorch", "-n", ns)
    assert sts_a["metadata"]["labels"][QUEUE] == "training"
    kueue.wait_for("release a admitted", lambda: admitted(kueue, ns, "a-pytorch"), 60)
    kueue.wait_for("4 ranks of a Running", lambda: running(kueue, ns, "a", 4), 60)

    install(kueue, ns, "b", *STS4, hold=False)

    def gated():
        pods = kueue.pods(ns, "app.kubernetes.io/instance=b")
        if len(pods) != 4:
            return None
        gates = [{g["name"] for g in p["spec"].get("schedulingGates", [])} for p in pods]
        return pods if all("kueue.x-k8s.io/admission" in g for g in gates) else None
    pods_b = kueue.wait_for("b's 4 pods created and gated by Kueue", gated, 60)
    assert {p["status"]["phase"] for p in pods_b} == {"Pending"}
    assert not any(p["spec"].get("nodeName") for p in pods_b)
    kueue.wait_for("release b refused for quota", lambda: pending_for_quota(kueue, ns, "b-pytorch"), 60)

    # Kueue's StatefulSet webhook refuses a replicas change of a StatefulSet it manages.
    with pytest.raises(CommandError) as refused:
        kueue.helm("upgrade", "a", str(ROOT), "-n", ns, "--reuse-values", "--set", "worldSize=2")
    assert "spec.replicas" in refused.value.stderr and "immutable" in refused.value.stderr, refused.value.stderr
    assert kueue.get("statefulset", "a-pytorch", "-n", ns)["spec"]["replicas"] == 4

    kueue.helm("uninstall", "a", "-n", ns, "--wait", "--timeout", "60s")
    kueue.wait_for("release b admitted", lambda: admitted(kueue, ns, "b-pytorch"), 60)
    kueue.wait_for("4 ranks of b Running", lambda: running(kueue, ns, "b", 4), 60)


def test_should_leave_the_helm_test_pod_out_of_the_queue(kueue, queue):
    ns = queue
    install(kueue, ns, "a", *STS4, hold=False)
    kueue.wait_for("4 ranks of a Running", lambda: running(kueue, ns, "a", 4), 60)
    res = kueue.helm("test", "a", "-n", ns, "--timeout", "60s")
    assert "Phase:          Succeeded" in res.stdout, res.stdout
    assert [w["metadata"]["name"] for w in kueue.get("workloads.kueue.x-k8s.io", "-n", ns)["items"]
            if "test" in w["metadata"]["name"]] == []


def test_should_gate_a_queued_deployment_until_admitted(kueue, queue):
    """Standalone mode (a Deployment): Kueue's Deployment integration gates the pod until the
    Workload is admitted; with the quota taken by a 4-rank Job it waits."""
    ns = queue
    install(kueue, ns, "a", *JOB4)
    kueue.wait_for("4 ranks of a Running", lambda: running(kueue, ns, "a", 4), 60)
    install(kueue, ns, "solo", "persistence.enabled=false", hold=False)
    assert kueue.get("deployment", "solo-pytorch", "-n", ns)["metadata"]["labels"][QUEUE] == "training"

    def gated():
        pods = kueue.pods(ns, "app.kubernetes.io/instance=solo")
        return pods if len(pods) == 1 and "kueue.x-k8s.io/admission" in {
            g["name"] for g in pods[0]["spec"].get("schedulingGates", [])} else None
    kueue.wait_for("the pod gated by Kueue", gated, 60)
    release_hold(kueue, ns, "a")
    kueue.wait_for("the pod Running once admitted", lambda: running(kueue, ns, "solo", 1), 60)


SLOT = "pytorch-chart.test/slot"
GANG3 = ("mode=distributed", "worldSize=3", "persistence.enabled=false", "gangScheduling.enabled=true",
         "gangScheduling.provider=kubernetes", f"gpu.resourceName={SLOT}", "gpu.count=1")


def test_should_admit_queued_gangs_on_quota_and_bind_each_only_when_every_rank_fits(kueue, queue):
    """Kubernetes' own gang behind Kueue: Kueue admits on quota (here 8 slots), which is not room on
    the nodes (one slot each: room for 2 of 3 ranks). Once admitted, the Job is unsuspended and the
    StatefulSet's pods ungated, still naming their PodGroup, and the kube-scheduler binds no rank
    of either gang until the nodes have room for all of them."""
    ns = queue
    kueue.kubectl("patch", "clusterqueue", ns, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": "/spec/resourceGroups/0/coveredResources", "value": ["pods", SLOT]},
        {"op": "replace", "path": "/spec/resourceGroups/0/flavors/0/resources",
         "value": [{"name": "pods", "nominalQuota": 8}, {"name": SLOT, "nominalQuota": 8}]}]))
    nodes = ("kwok-node-0", "kwok-node-1")
    kueue.set_node_resource(SLOT, dict.fromkeys(nodes, 1))
    try:
        install(kueue, ns, "s", *GANG3, hold=False)
        install(kueue, ns, "j", *GANG3, "job.enabled=true", "entrypoint.file=/workspace/train.py")

        def waiting(release):
            """The gang's 3 pods, once admitted, ungated and refused as a gang by the scheduler."""
            pg = kueue.get("podgroups.scheduling.k8s.io", f"{release}-pytorch", "-n", ns)
            cond = next((c for c in pg.get("status", {}).get("conditions", [])
                         if c["type"] == "PodGroupInitiallyScheduled"), {})
            pods = kueue.pods(ns, f"app.kubernetes.io/instance={release}")
            if not admitted(kueue, ns, f"{release}-pytorch") or len(pods) != 3 or cond.get("reason") != "Unschedulable":
                return None
            return pods if not any(p["spec"].get("schedulingGates") for p in pods) else None

        for release in ("s", "j"):
            pods = kueue.wait_for(f"gang {release} admitted and waiting for room", lambda: waiting(release), 60)
            assert {p["spec"]["schedulingGroup"]["podGroupName"] for p in pods} == {f"{release}-pytorch"}
            assert not any(p["spec"].get("nodeName") for p in pods)
        assert kueue.get("job", "j-pytorch", "-n", ns)["spec"]["suspend"] is False

        t0 = time.monotonic()
        kueue.set_node_resource(SLOT, dict.fromkeys(nodes, 3))
        for release in ("s", "j"):
            kueue.wait_for(f"gang {release} bound", lambda: running(kueue, ns, release, 3), 10)
        TIMINGS["Kueue + gang: room for every rank -> 6 ranks Running"] = time.monotonic() - t0
    finally:
        kueue.set_node_resource(SLOT, dict.fromkeys(nodes))


def test_should_hand_a_paused_statefulsets_quota_to_the_next_and_requeue_it_on_resume(kueue, queue):
    """paused=true scales a queued StatefulSet to 0 replicas: Kueue's webhook allows a scale to and
    from zero, finishes the Workload and frees its quota. paused=false queues it again."""
    ns = queue
    install(kueue, ns, "a", *STS4, hold=False)
    # A StatefulSet's pods are admitted as one group once all 4 exist: the same step as the
    # handoffs below, so the same bound (60 s ran out once in a loaded fresh-clone run).
    with kueue_state_on_timeout(kueue, ns):
        kueue.wait_for("4 ranks of a Running", lambda: running(kueue, ns, "a", 4), 150)
    install(kueue, ns, "b", *STS4, hold=False)
    kueue.wait_for("release b refused for quota", lambda: pending_for_quota(kueue, ns, "b-pytorch"), 60)

    t0 = time.monotonic()
    kueue.helm("upgrade", "a", str(ROOT), "-n", ns, "--reuse-values", "--set", "paused=true")
    kueue.wait_for("a's ranks gone", lambda: kueue.pods(ns, "app.kubernetes.io/instance=a") == [], 120)
    # 20.7-22.4 s in three runs on an idle machine; the bound leaves room for a loaded one.
    with kueue_state_on_timeout(kueue, ns):
        kueue.wait_for("4 ranks of b Running", lambda: running(kueue, ns, "b", 4), 150)
    TIMINGS["Kueue: pause a -> b's 4 ranks Running"] = time.monotonic() - t0
    kueue.wait_for("a's Workload deleted", lambda: workload(kueue, ns, "a-pytorch") is None, 120)

    kueue.helm("upgrade", "a", str(ROOT), "-n", ns, "--reuse-values", "--set", "paused=false")
    assert kueue.get("statefulset", "a-pytorch", "-n", ns)["spec"]["replicas"] == 4
    kueue.wait_for("resumed a refused for quota", lambda: pending_for_quota(kueue, ns, "a-pytorch"), 60)
    kueue.helm("uninstall", "b", "-n", ns, "--wait", "--timeout", "60s")
    with kueue_state_on_timeout(kueue, ns):
        kueue.wait_for("4 ranks of a Running again", lambda: running(kueue, ns, "a", 4), 150)
