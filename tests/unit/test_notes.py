"""templates/NOTES.txt, rendered by `helm install --dry-run=client -o json`."""
import json
import re
import shlex

import pytest
import yaml

from harness.render import NAMESPACE, RELEASE, helm_run
from harness.tools import CHART


def notes(*sets: str) -> str:
    args = [f"--set={s}" for s in sets]
    proc = helm_run("install", RELEASE, str(CHART), "-n", NAMESPACE, "--dry-run=client", "-o", "json", *args)
    return json.loads(proc.stdout)["info"]["notes"]


def test_should_tell_how_to_reach_master_and_read_each_ranks_logs_in_distributed_mode():
    text = notes("mode=distributed", "worldSize=4")
    assert "MASTER_ADDR=rel-pytorch-0.rel-pytorch-headless.ml.svc.cluster.local" in text
    assert "MASTER_PORT=49875" in text
    assert "pod rel-pytorch-0 is rank 0, the master" in text and "rel-pytorch-3 is rank 3" in text
    assert "kubectl logs -n ml -l app.kubernetes.io/instance=rel,apps.kubernetes.io/pod-index=0" in text
    assert "--prefix" in text and "-l app.kubernetes.io/instance=rel" in text
    assert "one claim per rank" in text


def test_should_tell_how_to_read_logs_in_standalone_mode():
    text = notes()
    assert "kubectl logs -n ml -f deployment/rel-pytorch" in text
    assert "MASTER_ADDR" not in text and "Data: /data is on claim rel-pytorch." in text


def test_should_explain_the_idle_container_only_without_entrypoint():
    assert "sleep infinity" in notes()
    assert "sleep infinity" not in notes("examples.enabled=true")


def test_should_warn_when_git_clone_is_shadowed_by_configmap():
    text = notes("configMap=code", "cloneFilesFromGit.enabled=true", "cloneFilesFromGit.repository=https://h/r.git")
    assert "WARNING: cloneFilesFromGit.enabled is ignored" in text
    assert "WARNING" not in notes("cloneFilesFromGit.enabled=true", "cloneFilesFromGit.repository=https://h/r.git")


@pytest.mark.parametrize("sets,expected", [
    (("persistence.enabled=false",), "is an emptyDir"),
    (("persistence.existingClaim=shared",), "the existing claim shared"),
    (("mode=distributed", "worldSize=3"),
     "Data: /data is on one claim per rank (data-rel-pytorch-<rank>); helm uninstall keeps them.\n"),
    (("mode=distributed", "worldSize=3", "persistentVolumeClaimRetentionPolicy.whenDeleted=Delete"),
     "Data: /data is on one claim per rank (data-rel-pytorch-<rank>); helm uninstall deletes them.\n"),
    (("mode=distributed", "worldSize=3", "persistentVolumeClaimRetentionPolicy.whenScaled=Delete"),
     "Data: /data is on one claim per rank (data-rel-pytorch-<rank>); helm uninstall keeps them, and a smaller "
     "worldSize deletes the claims of the ranks it removes.\n"),
], ids=["no-persistence", "existing-claim", "per-rank-retained", "per-rank-deleted-with-release", "per-rank-deleted-when-scaled"])
def test_should_say_where_data_lives(sets, expected):
    assert expected in notes(*sets)


PER_RANK_HINT = ("No per-rank data to keep? Each claim is a volume provisioned (and on a cloud, a disk attached) "
                 "before its rank can start: persistence.enabled=false gives each rank an emptyDir, "
                 "persistence.accessMode=ReadWriteMany one claim shared by all ranks.\n")


def test_should_tell_how_to_skip_a_claim_per_rank_only_when_there_is_one():
    assert PER_RANK_HINT in notes("mode=distributed", "worldSize=5")
    for sets in [(), ("mode=distributed", "worldSize=5", "persistence.enabled=false"),
                 ("mode=distributed", "worldSize=5", "persistence.accessMode=ReadWriteMany"),
                 ("mode=distributed", "worldSize=5", "persistence.existingClaim=shared")]:
        assert "No per-rank data" not in notes(*sets), sets


def test_should_describe_indexed_job_and_torchrun():
    text = notes("mode=distributed", "worldSize=2", "configMap=c", "entrypoint.file=t.py", "job.enabled=true",
                 "persistence.enabled=false", "launcher=torchrun", "gpu.count=4")
    assert "2 rank(s) in Indexed Job rel-pytorch" in text and "WORLD_SIZE = 8" in text
    assert "batch.kubernetes.io/job-completion-index=0" in text
    assert "kubectl wait -n ml --for=condition=complete job/rel-pytorch" in text


def test_should_say_where_kueue_holds_a_job_and_warn_about_resizing_a_statefulset():
    job = notes("mode=distributed", "worldSize=2", "configMap=c", "entrypoint.file=t.py", "job.enabled=true",
                "persistence.enabled=false", "kueue.queueName=team-a")
    assert "Kueue: the Job is queued in LocalQueue team-a" in job and "the Job stays suspended with no pods" in job
    assert "kubectl get workloads -n ml" in job and "refuses a worldSize change" not in job
    sts = notes("mode=distributed", "worldSize=2", "kueue.queueName=team-a")
    assert "Kueue: the StatefulSet is queued in LocalQueue team-a" in sts and "its pods stay gated" in sts
    assert "WARNING: Kueue refuses a worldSize change of a StatefulSet it manages" in sts
    assert "Kueue" not in notes("mode=distributed", "worldSize=2")


def test_should_warn_when_the_gang_is_not_rendered_and_describe_it_when_it_is():
    skipped = notes("mode=distributed", "worldSize=3", "gangScheduling.enabled=true")
    assert "WARNING: gangScheduling.enabled, but the cluster does not serve scheduling.volcano.sh/v1beta1/PodGroup" in skipped
    forced = notes("mode=distributed", "worldSize=3", "gangScheduling.enabled=true", "gangScheduling.force=true")
    assert "Gang scheduling (volcano): no rank is bound until all 3 fit; scheduler volcano." in forced
    assert "WARNING" not in forced and "Gang scheduling" not in notes("mode=distributed", "worldSize=3")


def test_should_tell_how_to_turn_on_the_kubernetes_gang_when_its_api_is_not_served():
    kubernetes = ("mode=distributed", "worldSize=5", "gangScheduling.enabled=true", "gangScheduling.provider=kubernetes")
    skipped = " ".join(notes(*kubernetes).split())
    assert "WARNING: gangScheduling.enabled, but the cluster does not serve scheduling.k8s.io/v1beta1/PodGroup" in skipped
    assert ("Kubernetes 1.37+ serves it with the feature gate GenericWorkload=true (API server, controller manager, "
            "scheduler) and --runtime-config=scheduling.k8s.io/v1beta1=true. Then uninstall and install again") in skipped
    assert "Install kubernetes" not in skipped
    forced = notes(*kubernetes, "gangScheduling.force=true")
    assert "Gang scheduling (kubernetes): no rank is bound until all 5 fit." in forced and "WARNING" not in forced


def test_should_warn_when_the_pod_monitor_is_not_rendered():
    text = notes("metrics.enabled=true", "metrics.podMonitor.enabled=true")
    assert "WARNING: metrics.podMonitor.enabled, but the cluster does not serve monitoring.coreos.com/v1/PodMonitor" in text
    assert "PodMonitor" not in notes("metrics.enabled=true")


def test_should_tell_how_to_reach_tensorboard_and_name_the_exclusive_domain():
    text = notes("mode=distributed", "worldSize=2", "tensorboard.enabled=true", "exclusiveTopology.enabled=true",
                 "exclusiveTopology.topologyKey=example.com/rack")
    assert "TensorBoard reads /data/tensorboard (TENSORBOARD_LOG_DIR) of rank 0" in text
    assert "kubectl port-forward -n ml svc/rel-pytorch-tensorboard 6006" in text
    assert "every rank runs in one example.com/rack domain that no other release of this chart uses" in text
    assert "TensorBoard" not in notes() and "Placement:" not in notes()
    assert "TensorBoard reads /data/tensorboard (TENSORBOARD_LOG_DIR) of the pod" in notes("tensorboard.enabled=true")


def test_should_forward_the_tensorboard_port_given():
    text = notes("tensorboard.enabled=true", "tensorboard.port=6123")
    assert "kubectl port-forward -n ml svc/rel-pytorch-tensorboard 6123\n" in text


@pytest.mark.parametrize("world_size,requests", [(2, 5), (8, 8)], ids=["kubectl-default", "one-per-rank"])
def test_should_follow_every_ranks_logs_with_enough_log_requests(world_size, requests):
    """kubectl logs -f refuses more pods than --max-log-requests (5 unless given)."""
    assert f" -f --prefix --max-log-requests={requests} -l " in notes("mode=distributed", f"worldSize={world_size}")


def test_should_tell_how_to_check_the_release_and_upgrade_it_safely():
    text = notes("mode=distributed", "worldSize=3")
    assert "helm status rel -n ml\n" in text and "helm test rel -n ml\n" in text
    assert text.endswith("\n  helm upgrade rel <chart> -n ml --reuse-values --set ... --rollback-on-failure --wait --timeout 10m\n")


# --- every command NOTES prints names objects this release has -----------------------------------

KINDS = {"job": "Job", "deployment": "Deployment", "statefulset": "StatefulSet", "svc": "Service"}
RANK_LABELS = {"StatefulSet": "apps.kubernetes.io/pod-index", "Job": "batch.kubernetes.io/job-completion-index"}
SCENARIOS = {
    "standalone-idle": ("fullnameOverride=trainer",),
    "standalone-job": ("configMap=code", "entrypoint.file=t.py", "job.enabled=true", "kueue.queueName=team-a"),
    "statefulset-idle": ("mode=distributed", "worldSize=5", "nameOverride=torch", "tensorboard.enabled=true",
                         "tensorboard.port=6123", "kueue.queueName=team-a"),
    "indexed-job": ("mode=distributed", "worldSize=5", "fullnameOverride=trainer", "configMap=code",
                    "entrypoint.file=t.py", "job.enabled=true", "persistence.enabled=false", "launcher=torchrun",
                    "tensorboard.enabled=true"),
}


def install(*sets: str) -> tuple[str, list[dict]]:
    """NOTES and the objects of one `helm install --dry-run=client` (hooks left out)."""
    proc = helm_run("install", RELEASE, str(CHART), "-n", NAMESPACE, "--dry-run=client", "-o", "json",
                    *[f"--set={s}" for s in sets])
    out = json.loads(proc.stdout)
    return out["info"]["notes"], [d for d in yaml.safe_load_all(out["manifest"]) if d]


def commands(text: str) -> list[list[str]]:
    """Every kubectl or helm command in NOTES, as words."""
    found = re.findall(r"(?:^|  )((?:kubectl|helm) [^\n]+)|: (kubectl [^\n]+)", text, re.M)
    return [shlex.split(a or b) for a, b in found]


def check_command(words: list[str], objects: list[dict]) -> None:
    """The command's namespace, release, objects (kind/name, a pod of the StatefulSet), label
    selectors (labels the workload's pods carry, the rank label of the workload's kind) and
    forwarded port are those of the release."""
    found = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    workload = next(o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job"))
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    assert words[words.index("-n") + 1] == NAMESPACE, words
    if words[0] == "helm":
        assert words[1] in ("status", "test", "upgrade") and words[2] == RELEASE, words
        return
    for i, word in enumerate(words):
        ref = re.fullmatch(r"(job|deployment|statefulset|svc)/(\S+)", word)
        if ref:
            assert (KINDS[ref[1]], ref[2]) in found, words
            if words[1] == "port-forward":
                ports = [p["port"] for p in found[(KINDS[ref[1]], ref[2])]["spec"]["ports"]]
                assert [int(p) for p in words[i + 1:]] == ports, words
        if words[i - 1] == "-l":
            for pair in word.split(","):
                key, value = pair.split("=")
                if key in RANK_LABELS.values():
                    assert key == RANK_LABELS[workload["kind"]] and value == "0", words
                else:
                    assert pod_labels[key] == value, words
        if words[i - 1] == "-L":
            assert word == RANK_LABELS[workload["kind"]], words
    if words[1] == "exec":
        target = words[words.index("-it") + 1]
        if workload["kind"] == "StatefulSet":
            assert target == f"{workload['metadata']['name']}-0", words
        else:
            assert target == f"{workload['kind'].lower()}/{workload['metadata']['name']}", words


@pytest.mark.parametrize("sets", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_should_name_only_objects_of_the_release_in_every_command(sets):
    text, objects = install(*sets)
    found = commands(text)
    assert len(found) >= 4, text
    for words in found:
        check_command(words, objects)
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    master = re.search(r"The master Service ([^.]+)\.ml\.svc\.cluster\.local:(\d+) ", text)
    assert [p["port"] for p in services[master[1]]["spec"]["ports"]] == [int(master[2])]
    for claim in re.findall(r" is on claim (\S+)\.\n", text):
        assert claim in [o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"]
    for master_pod in re.findall(r"pod (\S+)-0 is rank 0", text):
        assert master_pod in [o["metadata"]["name"] for o in objects if o["kind"] == "StatefulSet"]


def test_should_count_pods_in_the_gang_and_processes_in_the_world():
    text = notes("mode=distributed", "worldSize=5", "configMap=c", "entrypoint.file=t.py", "launcher=torchrun",
                 "torchrun.nprocPerNode=3", "gangScheduling.enabled=true", "gangScheduling.force=true")
    assert "Each pod runs torchrun with 3 process(es): WORLD_SIZE = 15." in text
    assert "no rank is bound until all 5 fit" in text


@pytest.mark.parametrize("sets,state", [
    (("mode=distributed", "worldSize=5"), "the StatefulSet has 0 replicas"),
    (("mode=distributed", "worldSize=5", "configMap=c", "entrypoint.file=t.py", "job.enabled=true",
      "persistence.enabled=false"), "the Job is suspended"),
    ((), "the Deployment has 0 replicas"),
], ids=["statefulset", "job", "deployment"])
def test_should_say_the_release_is_paused_and_how_to_resume_it(sets, state):
    text = notes(*sets, "paused=true")
    assert f"PAUSED (paused=true): no rank runs; {state}, and the release and its claims stay." in text
    assert "helm upgrade rel <chart> -n ml --reuse-values --set paused=false" in text
    assert "PAUSED" not in notes(*sets)
