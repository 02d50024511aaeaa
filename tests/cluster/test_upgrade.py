"""Upgrades Kubernetes cannot apply in place, on the embedded control plane (API server level):
a created Job's pods and a StatefulSet's claim template. Without templates/_upgrade.tpl the API
server refuses them with the whole object as a Go struct and helm records a failed revision (and
may have applied the objects before the refused one); with it, helm fails before sending
anything, with one line that names the key and the way out. Each test checks that line, that
the release and its objects are unchanged, then runs the kubectl commands the line gives, word
for word, and upgrades again."""
from __future__ import annotations

import json
import re
import shlex
import time

import pytest

from .controlplane import names

pytestmark = pytest.mark.cluster

JOB = ("job.enabled=true", "examples.enabled=true", "mode=distributed", "worldSize=2", "persistence.enabled=false")
STS = ("mode=distributed", "worldSize=2")
SIZE = "persistence.size=16Gi"


def sets(*values: str) -> list[str]:
    return [arg for v in values for arg in ("--set", v)]


def history(cluster, release: str, ns: str) -> list[tuple[int, str]]:
    out = json.loads(cluster.helm("history", release, "-n", ns, "-o", "json").stdout)
    return [(r["revision"], r["status"]) for r in out]


def snapshot(cluster, release: str, ns: str) -> dict:
    """The release's history, and uid, generation and spec (or data) of every object in the
    namespace that a chart renders or a controller makes from it, pods and claims included."""
    objects = cluster.get("jobs,statefulsets,deployments,services,configmaps,pvc,pdb,networkpolicies,pods", "-n", ns)
    return {"history": history(cluster, release, ns),
            "objects": {(o["kind"], o["metadata"]["name"]): (o["metadata"]["uid"], o["metadata"].get("generation"),
                                                             json.dumps(o.get("spec", o.get("data")), sort_keys=True))
                        for o in objects["items"]}}


def settled(cluster, release: str, ns: str, pods: int) -> dict:
    """The snapshot once the controllers are done with the install: every pod created and bound to
    a node, and two reads a second apart equal. Taken earlier, the scheduler's nodeName or a
    claim's binding lands between the two snapshots and reads as a change the upgrade made."""
    def calm():
        made = [p for p in cluster.pods(ns) if p["spec"].get("nodeName")]
        if len(made) != pods:
            return None
        first = snapshot(cluster, release, ns)
        time.sleep(1)
        return (first,) if snapshot(cluster, release, ns) == first else None
    return cluster.wait_for(f"{pods} pods bound and nothing changing in {ns}", calm, 90)[0]


def refused(cluster, release: str, ns: str, chart: str, *values: str) -> str:
    """`helm upgrade` that must fail; returns its error (helm's log lines left out)."""
    proc = cluster.helm("upgrade", release, chart, "-n", ns, *sets(*values), check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("level=")]
    assert len(lines) == 1, lines
    return lines[0]


def way_out(message: str, ranks: int) -> list[list[str]]:
    """The kubectl commands a refusal names, in order, with <rank> spelled out for each rank."""
    commands = re.findall(r"kubectl .+?(?=, then |, kubectl | \(|\)|, if |$)", message.split(": ", 2)[-1])
    assert commands, message
    out = []
    for command in commands:
        for rank in (range(ranks) if "<rank>" in command else [None]):
            out.append(shlex.split(command.replace("<rank>", str(rank)) if rank is not None else command))
    return out


def run_way_out(cluster, message: str, ranks: int = 2) -> list[list[str]]:
    commands = way_out(message, ranks)
    for command in commands:
        cluster.kubectl(*command[1:], timeout=120)
    return commands


def wait_claims(cluster, ns: str, expected: list[str]) -> dict[str, dict]:
    def ready():
        claims = {c["metadata"]["name"]: c for c in cluster.get("pvc", "-n", ns)["items"]
                  if not c["metadata"].get("deletionTimestamp")}
        return (claims,) if sorted(claims) == sorted(expected) else None
    return cluster.wait_for(f"claims {expected} in {ns}", ready, 90)[0]


def job_message(ns: str) -> str:
    return ("Error: UPGRADE FAILED: execution error at (pytorch/templates/job.yaml:11:4): job.enabled: the Job "
            "train-pytorch exists and Kubernetes cannot change its pods (entrypoint, worldSize, image, env, "
            f"resources...); delete it first: kubectl delete job -n {ns} train-pytorch, then upgrade again")


FAIL_ON_42 = {"action": "FailJob", "onExitCodes": {"containerName": "pytorch", "operator": "In", "values": [42]}}


@pytest.mark.parametrize("change,check", [
    ("entrypoint.args={--lr,0.1}", lambda job: job["spec"]["template"]["spec"]["containers"][0]["args"] == ["--lr", "0.1"]),
    ("worldSize=3", lambda job: (job["spec"]["completions"], job["spec"]["parallelism"]) == (3, 3)),
    # the pod template stays the same; the podFailurePolicy, which cannot change either, does not
    ("faultTolerance.nonRetriableExitCodes={42}", lambda job: job["spec"]["podFailurePolicy"]["rules"][-1] == FAIL_ON_42),
], ids=["args", "worldSize", "nonRetriableExitCodes"])
def test_should_refuse_to_change_a_created_job_and_run_a_new_one_once_it_is_deleted(cluster, namespace, chart,
                                                                                   change, check):
    ns = namespace()
    cluster.helm("install", "train", chart, "-n", ns, *sets(*JOB))
    old = cluster.get("job", "train-pytorch", "-n", ns)
    same = cluster.helm("upgrade", "train", chart, "-n", ns, *sets(*JOB))
    assert "Happy Helming" in same.stdout          # the same values: the Job stays as it is
    assert cluster.get("job", "train-pytorch", "-n", ns)["metadata"]["uid"] == old["metadata"]["uid"]
    before = snapshot(cluster, "train", ns)
    assert before["history"] == [(1, "superseded"), (2, "deployed")]

    message = refused(cluster, "train", ns, chart, *JOB, change)
    assert message == job_message(ns)
    assert snapshot(cluster, "train", ns)["history"] == before["history"]
    assert cluster.get("job", "train-pytorch", "-n", ns)["metadata"]["uid"] == old["metadata"]["uid"]
    assert cluster.get("job", "train-pytorch", "-n", ns)["spec"]["template"] == old["spec"]["template"]

    assert run_way_out(cluster, message) == [["kubectl", "delete", "job", "-n", ns, "train-pytorch"]]
    cluster.helm("upgrade", "train", chart, "-n", ns, *sets(*JOB, change))
    new = cluster.get("job", "train-pytorch", "-n", ns)
    assert new["metadata"]["uid"] != old["metadata"]["uid"] and check(new)
    assert history(cluster, "train", ns)[-1] == (3, "deployed")


@pytest.mark.parametrize("kind,installed,change,message", [
    ("job", JOB, "entrypoint.args={--lr,0.1}",
     "Error: UPGRADE FAILED: execution error at (pytorch/templates/job.yaml:11:4): job.enabled: the Job trainer "
     "exists and Kubernetes cannot change its pods (entrypoint, worldSize, image, env, resources...); delete it "
     "first: kubectl delete job -n {ns} trainer, then upgrade again"),
    ("statefulset", STS, SIZE,
     "Error: UPGRADE FAILED: execution error at (pytorch/templates/statefulset.yaml:5:4): persistence.size: the "
     "StatefulSet trainer's claims are 8Gi and its volumeClaimTemplates cannot change; resize each claim (kubectl "
     """patch pvc -n {ns} data-trainer-<rank> -p '{{"spec":{{"resources":{{"requests":{{"storage":"16Gi"}}}}}}}}', """
     "if its StorageClass allows expansion), then kubectl delete statefulset -n {ns} trainer --cascade=orphan "
     "(its pods keep running), then upgrade again"),
], ids=["job", "statefulset"])
def test_should_find_the_live_object_by_its_full_name(cluster, namespace, chart, kind, installed, change, message):
    """The checks look the live object up by the name the chart gives it: with fullnameOverride it
    is neither <release>-<chart> nor the release name, and a lookup by either finds nothing and
    lets the upgrade through to the API server's refusal."""
    ns = namespace()
    base = (*installed, "fullnameOverride=trainer")
    cluster.helm("install", "train", chart, "-n", ns, *sets(*base))
    assert cluster.get(kind, "trainer", "-n", ns)["metadata"]["name"] == "trainer"
    before = settled(cluster, "train", ns, pods=2)
    assert refused(cluster, "train", ns, chart, *base, change) == message.format(ns=ns)
    assert snapshot(cluster, "train", ns) == before


def sts_message(ns: str, key_text: str) -> str:
    return f"Error: UPGRADE FAILED: execution error at (pytorch/templates/statefulset.yaml:5:4): {key_text}"


ORPHAN = "kubectl delete statefulset -n {ns} dist-pytorch --cascade=orphan (its pods keep running)"
RECREATE = ("kubectl delete statefulset -n {ns} dist-pytorch, kubectl delete pvc -n {ns} "
            "-l app.kubernetes.io/instance=dist, then upgrade again")
UNUSED = "keep the old persistence values, or " + ORPHAN + ", then upgrade again (claims made before stay, unused)"

# (installed with, upgraded with, the refusal, claims after the way out and the upgrade, claims kept)
CASES = {
    "size": ((), (SIZE,),
             "persistence.size: the StatefulSet dist-pytorch's claims are 8Gi and its volumeClaimTemplates cannot "
             "change; resize each claim (kubectl patch pvc -n {ns} data-dist-pytorch-<rank> -p "
             """'{{"spec":{{"resources":{{"requests":{{"storage":"16Gi"}}}}}}}}', if its StorageClass allows """
             "expansion), then " + ORPHAN + ", then upgrade again",
             ["data-dist-pytorch-0", "data-dist-pytorch-1"], True),
    "accessMode": ((), ("persistence.accessMode=ReadWriteOncePod",),
                   "persistence.accessMode: the StatefulSet dist-pytorch's claims are ReadWriteOnce and neither a "
                   "claim nor volumeClaimTemplates can change it; keep ReadWriteOnce, or delete the StatefulSet and "
                   "its claims (their data goes): " + RECREATE,
                   ["data-dist-pytorch-0", "data-dist-pytorch-1"], False),
    "accessMode-shared": ((), ("persistence.accessMode=ReadWriteMany",),
                          "persistence.accessMode: the StatefulSet dist-pytorch has per-rank claims and its "
                          "volumeClaimTemplates cannot change; " + UNUSED,
                          ["data-dist-pytorch-0", "data-dist-pytorch-1", "dist-pytorch"], True),
    "storageClass": ((), ("persistence.storageClass={expandable}",),
                     "persistence.storageClass: the StatefulSet dist-pytorch's claims use the cluster's default "
                     "StorageClass and neither a claim nor volumeClaimTemplates can change it; keep it, or delete "
                     "the StatefulSet and its claims (their data goes): " + RECREATE,
                     ["data-dist-pytorch-0", "data-dist-pytorch-1"], False),
    "annotations": ((), ("persistence.annotations.backup=daily",),
                    "persistence.annotations: the StatefulSet dist-pytorch's claim template cannot change; annotate "
                    "each claim (kubectl annotate pvc -n {ns} data-dist-pytorch-<rank> --overwrite backup=daily), "
                    "then " + ORPHAN + ", then upgrade again",
                    ["data-dist-pytorch-0", "data-dist-pytorch-1"], True),
    "enabled": ((), ("persistence.enabled=false",),
                "persistence.enabled: the StatefulSet dist-pytorch has per-rank claims and its volumeClaimTemplates "
                "cannot change; " + UNUSED,
                ["data-dist-pytorch-0", "data-dist-pytorch-1"], True),
    "existingClaim": ((), ("persistence.existingClaim=datasets",),
                      "persistence.existingClaim: the StatefulSet dist-pytorch has per-rank claims and its "
                      "volumeClaimTemplates cannot change; " + UNUSED,
                      ["data-dist-pytorch-0", "data-dist-pytorch-1"], True),
    "enabled-later": (("persistence.enabled=false",), ("persistence.enabled=true",),
                      "persistence: the StatefulSet dist-pytorch has no per-rank claims and its volumeClaimTemplates "
                      "cannot change; keep the old persistence values, or delete it (its pods start again, with "
                      "claims): kubectl delete statefulset -n {ns} dist-pytorch, then upgrade again",
                      ["data-dist-pytorch-0", "data-dist-pytorch-1"], True),
}


@pytest.fixture
def expandable(cluster, request):
    """A StorageClass that allows expansion (the cluster's default does not), named after the test."""
    name = "expand-" + re.sub(r"[^a-z0-9]+", "-", request.node.callspec.id.lower())
    cluster.apply(f"apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: {name}\n"
                  "provisioner: kubernetes.io/host-path\nallowVolumeExpansion: true\n")
    yield name
    cluster.kubectl("delete", "storageclass", name, "--ignore-not-found", "--wait=false", check=False)


@pytest.mark.parametrize("case", CASES)
def test_should_refuse_to_change_the_claim_template_and_upgrade_after_the_way_out(cluster, namespace, chart,
                                                                                 expandable, case):
    installed, upgraded, expected, claims_after, kept = CASES[case]
    ns = namespace()
    # The size case resizes in place: its claims come from a StorageClass that allows expansion.
    base = STS + (("persistence.storageClass=" + expandable,) if case == "size" else ())
    cluster.helm("install", "dist", chart, "-n", ns, *sets(*base, *installed))
    pods = cluster.wait_pods_running(ns, "app.kubernetes.io/instance=dist", 2)
    claims = wait_claims(cluster, ns, [] if "persistence.enabled=false" in installed
                         else ["data-dist-pytorch-0", "data-dist-pytorch-1"])
    before = snapshot(cluster, "dist", ns)
    change = tuple(installed) + tuple(v.format(expandable=expandable) for v in upgraded)

    message = refused(cluster, "dist", ns, chart, *base, *change)
    assert message == sts_message(ns, expected.format(ns=ns))
    assert snapshot(cluster, "dist", ns) == before, "a refused upgrade changed the cluster"

    run_way_out(cluster, message)
    cluster.helm("upgrade", "dist", chart, "-n", ns, *sets(*base, *change))
    assert history(cluster, "dist", ns)[-1] == (2, "deployed")
    after = wait_claims(cluster, ns, claims_after)
    sts = cluster.get("statefulset", "dist-pytorch", "-n", ns)
    templates = sts["spec"].get("volumeClaimTemplates", [])
    if kept:   # the way out kept the rank claims: same objects
        assert {n: after[n]["metadata"]["uid"] for n in claims} == {n: c["metadata"]["uid"] for n, c in claims.items()}
    else:      # the way out deleted them; the StatefulSet made new ones
        assert not {after[n]["metadata"]["uid"] for n in after} & {c["metadata"]["uid"] for c in claims.values()}
    if case == "size":
        assert templates[0]["spec"]["resources"]["requests"]["storage"] == "16Gi"
        assert {after[n]["spec"]["resources"]["requests"]["storage"] for n in after} == {"16Gi"}
        # --cascade=orphan: the pods the old StatefulSet made run on, adopted by the new one
        assert names(cluster.wait_pods_running(ns, "app.kubernetes.io/instance=dist", 2)) == names(pods)
        assert {p["metadata"]["uid"] for p in cluster.pods(ns, "app.kubernetes.io/instance=dist")} == \
            {p["metadata"]["uid"] for p in pods}
    elif case == "accessMode":
        assert {tuple(after[n]["spec"]["accessModes"]) for n in after} == {("ReadWriteOncePod",)}
    elif case == "storageClass":
        assert {after[n]["spec"]["storageClassName"] for n in after} == {expandable}
    elif case == "annotations":
        assert templates[0]["metadata"]["annotations"] == {"backup": "daily"}
        assert {after[n]["metadata"]["annotations"]["backup"] for n in after} == {"daily"}
    elif case == "enabled-later":
        assert templates[0]["spec"]["resources"]["requests"]["storage"] == "8Gi"
    else:      # accessMode-shared, enabled, existingClaim: no per-rank claims any more
        assert templates == []


def test_should_upgrade_a_statefulset_whose_claims_are_stored_in_another_form(cluster, namespace, chart):
    """The API server stores 1.5Gi as 1536Mi: the same size, not a change."""
    ns = namespace()
    cluster.helm("install", "dist", chart, "-n", ns, *sets(*STS, "persistence.size=1.5Gi"))
    sts = cluster.get("statefulset", "dist-pytorch", "-n", ns)
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1536Mi"
    cluster.helm("upgrade", "dist", chart, "-n", ns, *sets(*STS, "persistence.size=1.5Gi", "worldSize=3"))
    assert history(cluster, "dist", ns) == [(1, "superseded"), (2, "deployed")]
    assert cluster.get("statefulset", "dist-pytorch", "-n", ns)["spec"]["replicas"] == 3
