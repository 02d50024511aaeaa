"""Upgrades from the released chart, on the embedded control plane (API server and controllers):
the previous release (tests/data/previous-release.txt) is packaged from git history, installed with
each ci/ scenario and the defaults, upgraded to the working tree, then rolled back to revision 1.
No immutable-field error, the data claims keep their uids, and the rollback works.

1.0.0's schema does not know the keys that came later: a scenario that sets them is installed
with the keys 1.0.0 knows (OLD_SCHEMA_DROPS says which are left out) and upgraded with the whole
file. A Job-mode release cannot be upgraded in place (its pods change); the chart says so in one
line, and the test runs the way out the line names (delete the Job) before the upgrade and before
the rollback."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from harness.tools import BIN, ROOT

pytestmark = pytest.mark.cluster

PIN = ROOT / "tests" / "data" / "previous-release.txt"
SCENARIOS = ["defaults"] + sorted(p.name for p in (ROOT / "ci").glob("*-values.yaml"))
# Top-level keys a scenario sets that 1.0.0's values.schema.json refuses (additionalProperties).
OLD_SCHEMA_DROPS = {
    "shared-cluster-values.yaml": ["exclusiveTopology", "gangScheduling", "kueue", "metrics", "networkPolicy",
                                   "schedulerName", "tensorboard", "terminationGracePeriodSeconds"],
}
JOB_SCENARIOS = {"shared-cluster-values.yaml"}
# What a scenario expects the cluster to have (it names them): made for the test, removed after it.
PREREQUISITES = {
    "distributed-shared-claim-values.yaml": ["storageclass nfs"],
    "production-values.yaml": ["storageclass fast-ssd", "priorityclass high-priority"],
    "shared-cluster-values.yaml": ["crd podgroups.scheduling.x-k8s.io"],
}
MANIFESTS = {
    "storageclass": "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: {name}\n"
                    "provisioner: kubernetes.io/host-path\n",
    "priorityclass": "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: {name}\nvalue: 1000\n",
}
TIMES: dict[str, float] = {}


def previous_commit() -> str:
    lines = [line.strip() for line in PIN.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert len(lines) == 1 and len(lines[0]) == 40, f"{PIN}: one 40-character commit id expected, got {lines}"
    return lines[0]


def git(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=False, **kw)


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> dict:
    """The previous release: its packaged chart (helm package of `git archive COMMIT`) and its
    values.schema.json."""
    commit = previous_commit()
    if git("cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        shallow = git("rev-parse", "--is-shallow-repository", text=True).stdout.strip()
        pytest.fail(f"commit {commit} (the 1.0.0 release, {PIN.relative_to(ROOT)}) is not in this clone"
                    f"{' (a shallow clone)' if shallow == 'true' else ''}: run `git fetch --unshallow` "
                    "(or fetch that commit) and run the test again", pytrace=False)
    src = tmp_path_factory.mktemp("previous") / "pytorch"
    src.mkdir()
    archive = git("archive", commit)
    assert archive.returncode == 0, archive.stderr
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
    out = src.parent / "dist"
    subprocess.run([str(BIN / "helm"), "package", str(src), "-d", str(out)], check=True, capture_output=True)
    (package,) = out.glob("pytorch-*.tgz")
    assert package.name == "pytorch-1.0.0.tgz", package.name
    schema = json.loads((src / "values.schema.json").read_text())
    return {"package": str(package), "properties": set(schema["properties"]), "dir": src.parent}


@pytest.fixture
def prerequisites(cluster, request):
    """Make what the scenario names and the cluster lacks (StorageClasses, a PriorityClass, the
    PodGroup CRD a forced gang renders); remove it after the test."""
    made = []
    for item in PREREQUISITES.get(request.node.callspec.params["scenario"], []):
        kind, name = item.split()
        if kind == "crd":
            cluster.install_test_crds(name)
        else:
            cluster.apply(MANIFESTS[kind].format(name=name))
        made.append((kind, name))
    yield
    for kind, name in made:
        if kind == "crd":
            cluster.remove_test_crds(name)
        else:
            cluster.kubectl("delete", kind, name, "--ignore-not-found", "--wait=false", check=False)


def values_for_old_chart(scenario: str, previous: dict) -> tuple[Path | None, list[str]]:
    """The scenario's file for 1.0.0 and the top-level keys left out of it (1.0.0's schema
    refuses them)."""
    if scenario == "defaults":
        return None, []
    values = yaml.safe_load((ROOT / "ci" / scenario).read_text())
    dropped = sorted(set(values) - previous["properties"])
    if not dropped:
        return ROOT / "ci" / scenario, []
    path = previous["dir"] / scenario
    path.write_text(yaml.safe_dump({k: v for k, v in values.items() if k not in dropped}))
    return path, dropped


def claim_names(cluster, release: str, ns: str) -> list[str]:
    """The claims the release's manifest makes: its PersistentVolumeClaims, and for a StatefulSet
    with volumeClaimTemplates, <template>-<statefulset>-<ordinal> for every replica."""
    manifest = cluster.helm("get", "manifest", release, "-n", ns).stdout
    names = []
    for obj in yaml.safe_load_all(manifest):
        if not obj:
            continue
        if obj["kind"] == "PersistentVolumeClaim":
            names.append(obj["metadata"]["name"])
        elif obj["kind"] == "StatefulSet":
            for tpl in obj["spec"].get("volumeClaimTemplates", []):
                names += [f"{tpl['metadata']['name']}-{obj['metadata']['name']}-{i}"
                          for i in range(obj["spec"]["replicas"])]
    return sorted(names)


def claim_uids(cluster, ns: str, expected: list[str]) -> dict[str, str]:
    def ready():
        uids = {c["metadata"]["name"]: c["metadata"]["uid"] for c in cluster.get("pvc", "-n", ns)["items"]}
        return (uids,) if sorted(uids) == expected else None
    return cluster.wait_for(f"claims {expected} in {ns}", ready, 90)[0]


def status(cluster, release: str, ns: str) -> tuple[int, str, str]:
    """The release's newest revision: number, status and chart version."""
    last = json.loads(cluster.helm("history", release, "-n", ns, "-o", "json").stdout)[-1]
    return last["revision"], last["status"], last["chart"].removeprefix("pytorch-")


def helm_error(proc: subprocess.CompletedProcess) -> str:
    return "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("level="))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_should_upgrade_from_the_previous_release_and_roll_back(cluster, namespace, chart, previous, prerequisites,
                                                               scenario):
    start = time.monotonic()
    # volumePermissions runs a root init container: `restricted` refuses its pods (test_install).
    ns = namespace(restricted=scenario != "volume-permissions-values.yaml")
    old_values, dropped = values_for_old_chart(scenario, previous)
    assert dropped == OLD_SCHEMA_DROPS.get(scenario, [])
    new_values = [] if scenario == "defaults" else ["-f", str(ROOT / "ci" / scenario)]

    cluster.helm("install", "prev", previous["package"], "-n", ns, *(["-f", str(old_values)] if old_values else []))
    assert status(cluster, "prev", ns) == (1, "deployed", "1.0.0")
    claims = claim_uids(cluster, ns, claim_names(cluster, "prev", ns))

    if scenario in JOB_SCENARIOS:
        # 1.0.0's Job has no checksum/pod-template: its pods differ from this chart's, so the
        # upgrade is refused in one line, nothing is sent, and the line's way out is taken.
        refused = cluster.helm("upgrade", "prev", chart, "-n", ns, *new_values, check=False)
        assert helm_error(refused) == (
            "Error: UPGRADE FAILED: execution error at (pytorch/templates/job.yaml:11:4): job.enabled: the Job "
            "prev-pytorch exists and Kubernetes cannot change its pods (entrypoint, worldSize, image, env, "
            f"resources...); delete it first: kubectl delete job -n {ns} prev-pytorch, then upgrade again")
        assert status(cluster, "prev", ns) == (1, "deployed", "1.0.0")
        cluster.kubectl("delete", "job", "-n", ns, "prev-pytorch")
    up = cluster.helm("upgrade", "prev", chart, "-n", ns, *new_values)
    assert "immutable" not in (up.stdout + up.stderr).lower()
    assert status(cluster, "prev", ns) == (2, "deployed", "1.1.0")
    assert claim_uids(cluster, ns, sorted(set(claims) | set(claim_names(cluster, "prev", ns)))).items() >= claims.items()

    if scenario in JOB_SCENARIOS:
        cluster.kubectl("delete", "job", "-n", ns, "prev-pytorch")   # a rollback cannot change its pods either
    back = cluster.helm("rollback", "prev", "1", "-n", ns)
    assert "immutable" not in (back.stdout + back.stderr).lower()
    assert status(cluster, "prev", ns) == (3, "deployed", "1.0.0")
    assert claim_uids(cluster, ns, sorted(claims)) == claims
    TIMES[scenario] = time.monotonic() - start


def summary_lines() -> list[str]:
    if not TIMES:
        return []
    lines = [f"  {'1.0.0 -> working tree -> rollback: ' + s:<45} {t:7.2f}s" for s, t in TIMES.items()]
    return lines + [f"  {f'{len(TIMES)} scenarios upgraded and rolled back':<45} {sum(TIMES.values()):7.2f}s"]
