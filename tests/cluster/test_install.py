"""Install the chart (repository root) into the embedded control plane with bin/helm.

Pods are simulated by kwok: they are scheduled, get a (fake) IP and turn Running
and Ready, but no container runs. What is checked is what the API server,
admission (Pod Security `restricted`), the controllers and the scheduler do with
the chart's objects.
"""
from __future__ import annotations

import pytest

from .controlplane import names, resolve_env

pytestmark = pytest.mark.cluster

WAIT = ("--wait", "--timeout", "120s")
RANK_FIELD = "metadata.labels['apps.kubernetes.io/pod-index']"


def install(cluster, chart, release, ns, *sets, wait=True):
    args = ["install", release, chart, "-n", ns]
    for s in sets:
        args += ["--set", s]
    if wait:
        args += WAIT
    return cluster.helm(*args)


def test_standalone_install(cluster, namespace, chart):
    ns = namespace()
    install(cluster, chart, "solo", ns)

    dep = cluster.get("deployment", "solo-pytorch", "-n", ns)
    cond = {c["type"]: c["status"] for c in dep["status"]["conditions"]}
    assert cond["Available"] == "True"
    assert dep["status"]["availableReplicas"] == 1

    svc = cluster.get("service", "solo-pytorch", "-n", ns)
    assert svc["spec"]["clusterIP"].startswith("10.96.")
    assert [p["port"] for p in svc["spec"]["ports"]] == [49875]

    pvc = cluster.get("pvc", "solo-pytorch", "-n", ns)
    assert pvc["status"]["phase"] == "Bound"          # default StorageClass, hostPath provisioner
    assert pvc["spec"]["storageClassName"] == "standard"

    (pod,) = cluster.wait_pods_running(ns, "app.kubernetes.io/instance=solo", 1)
    env = resolve_env(pod)
    assert (env["RANK"], env["WORLD_SIZE"], env["MASTER_ADDR"], env["MASTER_PORT"]) == ("0", "1", "127.0.0.1", "49875")
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"] if "persistentVolumeClaim" in v]
    assert claims == ["solo-pytorch"]
    assert_admitted_under_restricted(cluster, ns)


def test_distributed_install_ranks(cluster, namespace, chart):
    ns = namespace()
    install(cluster, chart, "dist", ns, "mode=distributed", "worldSize=4")

    pods = cluster.wait_pods_running(ns, "app.kubernetes.io/instance=dist", 4)
    assert names(pods) == [f"dist-pytorch-{i}" for i in range(4)]
    master = f"dist-pytorch-0.dist-pytorch-headless.{ns}.svc.cluster.local"
    ranks = []
    for pod in pods:
        spec = next(c for c in pod["spec"]["containers"] if c["name"] == "pytorch")
        rank_var = next(e for e in spec["env"] if e["name"] == "RANK")
        assert rank_var["valueFrom"]["fieldRef"]["fieldPath"] == RANK_FIELD
        index = pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"]   # set by the StatefulSet controller
        env = resolve_env(pod)
        assert env["RANK"] == index == pod["metadata"]["name"].rsplit("-", 1)[1]
        assert env["WORLD_SIZE"] == "4"
        assert env["MASTER_ADDR"] == master
        assert env["MASTER_PORT"] == "49875"
        ranks.append(int(env["RANK"]))
    assert sorted(ranks) == [0, 1, 2, 3]

    # MASTER_ADDR is rank 0's stable DNS name: <hostname>.<subdomain>.<ns>.svc.<domain>,
    # published by the headless Service's EndpointSlice (also while not ready), which holds
    # rank 0 alone unless headlessService.allRanks is set.
    rank0 = next(p for p in pods if p["metadata"]["name"] == "dist-pytorch-0")
    assert rank0["spec"]["hostname"] == "dist-pytorch-0"
    assert rank0["spec"]["subdomain"] == "dist-pytorch-headless"
    headless = cluster.get("service", "dist-pytorch-headless", "-n", ns)
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True

    def slice_hosts(count: int):
        slices = cluster.get("endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=dist-pytorch-headless")
        hosts = {e.get("hostname"): e["targetRef"]["name"] for s in slices["items"] for e in s.get("endpoints") or []}
        return hosts if len(hosts) == count else None
    hosts = cluster.wait_for("headless EndpointSlice with rank 0", lambda: slice_hosts(1), 60)
    assert hosts == {"dist-pytorch-0": "dist-pytorch-0"}
    cluster.helm("upgrade", "dist", chart, "-n", ns, "--reuse-values", "--set", "headlessService.allRanks=true", *WAIT)
    hosts = cluster.wait_for("headless EndpointSlice with 4 ranks", lambda: slice_hosts(4), 60)
    assert hosts == {f"dist-pytorch-{i}": f"dist-pytorch-{i}" for i in range(4)}

    sts = cluster.get("statefulset", "dist-pytorch", "-n", ns)
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["serviceName"] == "dist-pytorch-headless"
    pvcs = cluster.get("pvc", "-n", ns)["items"]
    assert names(pvcs) == [f"data-dist-pytorch-{i}" for i in range(4)]
    assert {p["status"]["phase"] for p in pvcs} == {"Bound"}
    assert_admitted_under_restricted(cluster, ns)


def _pod_security_failures(cluster, ns):
    """Messages of FailedCreate events that Pod Security admission caused."""
    events = cluster.get("events", "-n", ns)["items"]
    return [e["message"] for e in events if e.get("reason") == "FailedCreate" and "PodSecurity" in e["message"]]


def assert_admitted_under_restricted(cluster, ns):
    """The namespace enforces `restricted`, no pod creation was refused, and
    labelling it `restricted` again (server-side dry run) raises no warning
    about its existing pods."""
    labels = cluster.get("namespace", ns)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert _pod_security_failures(cluster, ns) == []
    res = cluster.kubectl("label", "--dry-run=server", "--overwrite", "namespace", ns,
                          "pod-security.kubernetes.io/enforce=restricted")
    assert "violate" not in res.stderr, res.stderr


def test_volume_permissions_needs_unrestricted_namespace(cluster, namespace, chart):
    """volumePermissions.enabled=true adds an init container that runs as root:
    `restricted` rejects its pods (the workload is created, its pods are not);
    in a namespace without the label it installs and runs."""
    restricted = namespace()
    install(cluster, chart, "perm", restricted, "volumePermissions.enabled=true", wait=False)
    msgs = cluster.wait_for("PodSecurity FailedCreate event",
                            lambda: _pod_security_failures(cluster, restricted), 60)
    assert 'violates PodSecurity "restricted:latest"' in msgs[0]
    assert "runAsNonRoot" in msgs[0] or "runAsUser=0" in msgs[0]
    assert cluster.pods(restricted, "app.kubernetes.io/instance=perm") == []

    baseline = namespace(restricted=False)
    install(cluster, chart, "perm", baseline, "volumePermissions.enabled=true")
    (pod,) = cluster.wait_pods_running(baseline, "app.kubernetes.io/instance=perm", 1)
    init = pod["spec"]["initContainers"]
    assert any(c.get("securityContext", {}).get("runAsUser") == 0 for c in init)
    # ... and the API server says so when asked to enforce `restricted` there.
    res = cluster.kubectl("label", "--dry-run=server", "--overwrite", "namespace", baseline,
                          "pod-security.kubernetes.io/enforce=restricted")
    assert 'violate the new PodSecurity enforce level "restricted:latest"' in res.stderr
