"""templates/NOTES.txt, rendered by `helm install --dry-run=client -o json`."""
import json

import pytest

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
])
def test_should_say_where_data_lives(sets, expected):
    assert expected in notes(*sets)


def test_should_describe_indexed_job_and_torchrun():
    text = notes("mode=distributed", "worldSize=2", "configMap=c", "entrypoint.file=t.py", "job.enabled=true",
                 "persistence.enabled=false", "launcher=torchrun", "gpu.count=4")
    assert "2 rank(s) in Indexed Job rel-pytorch" in text and "WORLD_SIZE = 8" in text
    assert "batch.kubernetes.io/job-completion-index=0" in text
    assert "kubectl wait -n ml --for=condition=complete job/rel-pytorch" in text
