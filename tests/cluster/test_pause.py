"""`paused` on the embedded control plane (API server and controllers, kwok pods): `helm upgrade
--reuse-values --set paused=true` stops every rank and keeps the release, the workload object and
its claims; `paused=false` brings the ranks back with the same pod template. For a Job the
upgrade changes only spec.suspend, which the checksum/pod-template guard (_upgrade.tpl) lets
through. Pausing under Kueue: tests/cluster/test_kueue.py. The checkpoint and the resumed
training on a real node: tests/node/test_resize_pause.py."""
from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.cluster

TIMINGS: dict[str, float] = {}
HOLD = ("--set-string", "podAnnotations.kwok\\.pytorch-chart\\.test/hold-running=true")  # kwok keeps Job pods Running
WORLD = 3


def history(cluster, ns: str) -> list[tuple[int, str]]:
    return [(r["revision"], r["status"]) for r in json.loads(cluster.helm("history", "run", "-n", ns, "-o", "json").stdout)]


def upgrade(cluster, ns: str, chart: str, paused: bool) -> float:
    t0 = time.monotonic()
    cluster.helm("upgrade", "run", chart, "-n", ns, "--reuse-values", "--set", f"paused={str(paused).lower()}")
    return t0


def no_pods(cluster, ns: str) -> bool:
    return cluster.pods(ns, "app.kubernetes.io/instance=run") == []


def claims(cluster, ns: str) -> dict[str, str]:
    return {c["metadata"]["name"]: c["metadata"]["uid"] for c in cluster.get("pvc", "-n", ns)["items"]}


def test_should_pause_and_resume_a_statefulset_keeping_its_claims_and_revision(cluster, namespace, chart):
    ns = namespace()
    cluster.helm("install", "run", chart, "-n", ns, "--set", "mode=distributed", "--set", f"worldSize={WORLD}",
                 "--set", "persistentVolumeClaimRetentionPolicy.whenScaled=Delete")
    cluster.wait_pods_running(ns, "app.kubernetes.io/instance=run", WORLD)
    before = cluster.get("statefulset", "run-pytorch", "-n", ns)
    kept = cluster.wait_for(f"{WORLD} claims", lambda: (c := claims(cluster, ns)) and len(c) == WORLD and c, 60)

    t0 = upgrade(cluster, ns, chart, paused=True)
    cluster.wait_for("every rank gone", lambda: no_pods(cluster, ns), 120)
    TIMINGS["StatefulSet: upgrade paused=true -> no pod"] = time.monotonic() - t0
    paused = cluster.get("statefulset", "run-pytorch", "-n", ns)
    assert paused["metadata"]["uid"] == before["metadata"]["uid"]
    assert paused["spec"]["replicas"] == 0
    assert paused["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"
    assert paused["spec"]["template"] == before["spec"]["template"]
    assert cluster.wait_for("the controller to see 0 replicas",
                            lambda: (s := cluster.get("statefulset", "run-pytorch", "-n", ns))["status"].get(
                                "observedGeneration") == s["metadata"]["generation"] and s, 60)["status"][
        "updateRevision"] == before["status"]["updateRevision"]
    assert claims(cluster, ns) == kept           # whenScaled=Delete would have deleted them
    assert history(cluster, ns) == [(1, "superseded"), (2, "deployed")]

    t1 = upgrade(cluster, ns, chart, paused=False)
    pods = cluster.wait_pods_running(ns, "app.kubernetes.io/instance=run", WORLD)
    TIMINGS["StatefulSet: upgrade paused=false -> every rank Running"] = time.monotonic() - t1
    resumed = cluster.get("statefulset", "run-pytorch", "-n", ns)
    assert resumed["spec"]["replicas"] == WORLD
    assert resumed["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Delete"
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods} == {before["status"]["updateRevision"]}
    assert claims(cluster, ns) == kept
    assert history(cluster, ns) == [(1, "superseded"), (2, "superseded"), (3, "deployed")]


def test_should_pause_a_running_job_without_the_upgrade_refusal_and_resume_it(cluster, namespace, chart):
    ns = namespace()
    cluster.helm("install", "run", chart, "-n", ns, "--set", "mode=distributed", "--set", f"worldSize={WORLD}",
                 "--set", "job.enabled=true", "--set", "examples.enabled=true", "--set", "persistence.enabled=false",
                 *HOLD)
    first = cluster.wait_pods_running(ns, "app.kubernetes.io/instance=run", WORLD)
    before = cluster.get("job", "run-pytorch", "-n", ns)

    t0 = upgrade(cluster, ns, chart, paused=True)        # not refused: only spec.suspend changes
    cluster.wait_for("every rank gone", lambda: no_pods(cluster, ns), 120)
    TIMINGS["Job: upgrade paused=true -> no pod"] = time.monotonic() - t0
    job = cluster.wait_for("the Job Suspended", lambda: (j := cluster.get("job", "run-pytorch", "-n", ns)) and any(
        c["type"] == "Suspended" and c["status"] == "True" for c in j["status"].get("conditions", [])) and j, 60)
    assert job["metadata"]["uid"] == before["metadata"]["uid"] and job["spec"]["suspend"] is True
    assert job["spec"]["template"] == before["spec"]["template"]
    assert job["metadata"]["annotations"]["checksum/pod-template"] == before["metadata"]["annotations"]["checksum/pod-template"]
    assert job["status"].get("failed", 0) == 0           # the suspended ranks do not count against backoffLimit
    assert history(cluster, ns) == [(1, "superseded"), (2, "deployed")]

    t1 = upgrade(cluster, ns, chart, paused=False)
    pods = cluster.wait_pods_running(ns, "app.kubernetes.io/instance=run", WORLD)
    TIMINGS["Job: upgrade paused=false -> every rank Running"] = time.monotonic() - t1
    job = cluster.get("job", "run-pytorch", "-n", ns)
    assert job["metadata"]["uid"] == before["metadata"]["uid"] and job["spec"]["suspend"] is False
    assert sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods) == ["0", "1", "2"]
    assert not {p["metadata"]["uid"] for p in pods} & {p["metadata"]["uid"] for p in first}   # new pods, same Job
    assert history(cluster, ns) == [(1, "superseded"), (2, "superseded"), (3, "deployed")]


def test_should_pause_and_resume_a_standalone_deployment(cluster, namespace, chart):
    ns = namespace()
    cluster.helm("install", "run", chart, "-n", ns)
    cluster.wait_pods_running(ns, "app.kubernetes.io/instance=run", 1)
    before = cluster.get("deployment", "run-pytorch", "-n", ns)
    upgrade(cluster, ns, chart, paused=True)
    cluster.wait_for("the pod gone", lambda: no_pods(cluster, ns), 120)
    assert claims(cluster, ns) == {"run-pytorch": cluster.get("pvc", "run-pytorch", "-n", ns)["metadata"]["uid"]}
    upgrade(cluster, ns, chart, paused=False)
    cluster.wait_pods_running(ns, "app.kubernetes.io/instance=run", 1)
    after = cluster.get("deployment", "run-pytorch", "-n", ns)
    assert after["metadata"]["uid"] == before["metadata"]["uid"] and after["spec"]["template"] == before["spec"]["template"]
    assert history(cluster, ns)[-1] == (3, "deployed")
