"""NetworkPolicy, PodGroup, PodMonitor and the TensorBoard sidecar against the API server.

Level: API server (validation, admission, discovery) with the real Deployment, StatefulSet,
Job and EndpointSlice controllers; kwok pods. No CNI runs here, so nothing enforces the
NetworkPolicy: what is proven is that the API server accepts it, not that traffic is filtered.

The PodMonitor CRD is the Prometheus Operator's own (harness/crds.py); the PodGroup CRDs are the
minimal ones of tests/data/crds (written for these tests, with the real group/version/kind). The tests that need them install them and remove them
again; the test that needs them absent removes them first, since the control plane is shared by
every cluster test of a session.
"""
from __future__ import annotations

import json

import pytest
import yaml

from harness.tools import ROOT


pytestmark = pytest.mark.cluster

SCENARIOS = {
    "standalone": [],
    "distributed": ["mode=distributed", "worldSize=4"],
    "indexed-job": ["mode=distributed", "worldSize=4", "job.enabled=true", "entrypoint.file=/w/train.py",
                    "persistence.accessMode=ReadWriteMany"],
    "closed": ["mode=distributed", "worldSize=2", "networkPolicy.allowExternal=false",
               "networkPolicy.allowExternalEgress=false", "metrics.enabled=true", "tensorboard.enabled=true",
               "networkPolicy.extraEgress[0].to[0].ipBlock.cidr=10.0.0.0/8",
               "networkPolicy.extraIngress[0].from[0].namespaceSelector.matchLabels.team=ml"],
    "shared-cluster": ["-f", str(ROOT / "ci" / "shared-cluster-values.yaml")],
}


def sets(args: list[str]) -> list[str]:
    out: list[str] = []
    for a in args:
        out += [a] if a.startswith("-") or out[-1:] == ["-f"] else ["--set", a]
    return out


def server_dry_run(cluster, manifest: str, ns: str) -> list[dict]:
    """`kubectl create --dry-run=server --validate=strict`: the API server validates and admits
    each object (CRD schemas included) and stores nothing."""
    out = cluster.kubectl("create", "--dry-run=server", "--validate=strict", "-n", ns, "-o", "json", "-f", "-",
                          input=manifest).stdout
    docs, decoder, i = [], json.JSONDecoder(), 0
    while i < len(out.rstrip()):
        doc, i = decoder.raw_decode(out, i)
        docs += doc["items"] if doc.get("kind") == "List" else [doc]
        while i < len(out) and out[i].isspace():
            i += 1
    return docs


def rendered(cluster, ns, release, args) -> tuple[str, str]:
    """helm install --dry-run=server: the manifest and NOTES as helm renders them for this
    cluster (its version and the APIs it serves)."""
    out = cluster.helm("install", release, str(ROOT), "-n", ns, "--dry-run=server", "-o", "json", *sets(args)).stdout
    release_doc = json.loads(out)
    return release_doc["manifest"], release_doc["info"]["notes"]


@pytest.fixture
def crds(cluster):
    """Install the test CRDs; remove them after the test."""
    cluster.install_test_crds()
    yield
    cluster.remove_test_crds()


@pytest.fixture
def no_crds(cluster):
    """The test CRDs are not served (whatever ran before on this control plane)."""
    cluster.remove_test_crds()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_network_policy_passes_a_server_side_dry_run(cluster, namespace, scenario, request):
    ns = namespace()
    if scenario == "shared-cluster":
        request.getfixturevalue("crds")   # it forces a PodGroup: helm maps every kind it renders
    manifest, _ = rendered(cluster, ns, "np", SCENARIOS[scenario])
    policies = [d for d in yaml.safe_load_all(manifest) if d and d["kind"] == "NetworkPolicy"]
    assert len(policies) == 1
    (checked,) = server_dry_run(cluster, yaml.safe_dump(policies[0]), ns)
    assert checked["kind"] == "NetworkPolicy" and checked["metadata"]["namespace"] == ns
    assert checked["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "np"
    assert checked["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_gang_and_pod_monitor_are_left_out_when_the_apis_are_not_served(cluster, namespace, no_crds):
    ns = namespace()
    assert not {"podgroups.scheduling.x-k8s.io", "podmonitors.monitoring.coreos.com",
                "podgroups.scheduling.volcano.sh"} & cluster.served()
    args = ["mode=distributed", "worldSize=3", "gangScheduling.enabled=true", "metrics.enabled=true",
            "metrics.podMonitor.enabled=true"]
    manifest, notes = rendered(cluster, ns, "plain", args)
    docs = [d for d in yaml.safe_load_all(manifest) if d]
    assert not {"PodGroup", "PodMonitor"} & {d["kind"] for d in docs}
    (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
    assert "schedulerName" not in sts["spec"]["template"]["spec"]
    assert "WARNING: gangScheduling.enabled, but the cluster does not serve scheduling.volcano.sh/v1beta1/PodGroup" in notes
    assert "WARNING: metrics.podMonitor.enabled, but the cluster does not serve monitoring.coreos.com/v1/PodMonitor" in notes


def test_gang_and_pod_monitor_follow_the_apis_the_cluster_serves(cluster, namespace, crds):
    """With the CRDs served, helm (asking the API server which APIs it serves) renders the
    PodGroup and the PodMonitor; every object of the release passes a strict server-side dry
    run, and a real install creates them."""
    ns = namespace()
    args = ["mode=distributed", "worldSize=3", "gangScheduling.enabled=true", "gangScheduling.provider=coscheduling",
            "gangScheduling.coscheduling.scheduleTimeoutSeconds=90", "metrics.enabled=true",
            "metrics.podMonitor.enabled=true", "metrics.podMonitor.interval=30s", "tensorboard.enabled=true"]
    manifest, notes = rendered(cluster, ns, "gang", args)
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(manifest) if d)
    assert "PodGroup" in kinds and "PodMonitor" in kinds and "WARNING" not in notes
    checked = {(o["kind"], o["metadata"]["name"]): o for o in server_dry_run(cluster, manifest, ns)}
    assert checked[("PodGroup", "gang-pytorch")]["spec"] == {"minMember": 3, "scheduleTimeoutSeconds": 90}
    assert checked[("PodMonitor", "gang-pytorch")]["spec"]["podMetricsEndpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}]

    cluster.helm("install", "gang", str(ROOT), "-n", ns, *sets(args))
    pg = cluster.get("podgroups.scheduling.x-k8s.io", "gang-pytorch", "-n", ns)
    assert pg["spec"]["minMember"] == 3
    assert cluster.get("podmonitors.monitoring.coreos.com", "gang-pytorch", "-n", ns)["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "gang"}}
    sts = cluster.get("statefulset", "gang-pytorch", "-n", ns)
    assert sts["spec"]["template"]["metadata"]["labels"]["scheduling.x-k8s.io/pod-group"] == "gang-pytorch"

    volcano = ["mode=distributed", "worldSize=3", "gangScheduling.enabled=true", "gangScheduling.volcano.queue=ml"]
    manifest, _ = rendered(cluster, ns, "vc", volcano)
    (sts,) = [d for d in yaml.safe_load_all(manifest) if d and d["kind"] == "StatefulSet"]
    assert sts["metadata"]["annotations"]["scheduling.volcano.sh/group-min-member"] == "3"
    assert sts["spec"]["template"]["spec"]["schedulerName"] == "volcano"


def test_tensorboard_sidecar_is_admitted_under_restricted_and_reached_through_rank_zero(cluster, namespace):
    ns = namespace()
    cluster.helm("install", "tb", str(ROOT), "-n", ns, "--set", "mode=distributed", "--set", "worldSize=2",
                 "--set", "tensorboard.enabled=true", "--wait", "--timeout", "120s")
    pods = cluster.wait_pods_running(ns, "app.kubernetes.io/instance=tb", 2)
    for pod in pods:
        (sidecar,) = pod["spec"]["initContainers"]
        assert sidecar["name"] == "tensorboard" and sidecar["restartPolicy"] == "Always"

    def rank0_endpoint():
        slices = cluster.get("endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=tb-pytorch-tensorboard")
        eps = [(e["targetRef"]["name"], p["port"]) for s in slices["items"] for e in s.get("endpoints") or []
               for p in s.get("ports") or []]
        return eps or None
    assert cluster.wait_for("TensorBoard EndpointSlice", rank0_endpoint, 60) == [("tb-pytorch-0", 6006)]
    events = cluster.get("events", "-n", ns)["items"]
    assert [e["message"] for e in events if "PodSecurity" in e.get("message", "")] == []


def test_job_with_tensorboard_sidecar_completes(cluster, namespace):
    """kwok completes the Job's pods (it does not model the kubelet stopping the sidecar); what
    this shows is that the API server and the Job controller take a Job whose pods have a native
    sidecar under `restricted`, and count the pods' completion."""
    ns = namespace()
    cluster.helm("install", "tbjob", str(ROOT), "-n", ns, "--set", "mode=distributed", "--set", "worldSize=2",
                 "--set", "job.enabled=true", "--set", "entrypoint.file=/w/train.py",
                 "--set", "persistence.enabled=false", "--set", "tensorboard.enabled=true")
    def complete():
        job = cluster.get("job", "tbjob-pytorch", "-n", ns)
        conds = job.get("status", {}).get("conditions", [])
        return job if any(c["type"] == "Complete" and c["status"] == "True" for c in conds) else None
    done = cluster.wait_for("Job Complete", complete, 60)
    assert done["status"]["succeeded"] >= 1
    assert done["spec"]["template"]["spec"]["initContainers"][0]["restartPolicy"] == "Always"
