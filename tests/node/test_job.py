"""Run to completion on the real node: Indexed Job mode.

Proves (running containers): an Indexed Job of `worldSize` ranks trains and reaches
Complete when rank 0 succeeds; a script that fails ends the Job as its failure policy
says (a FailJob rule on the exit code fails it at once, without retries).
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.node


def job_condition(cluster, ns: str, name: str, timeout: float = 240) -> dict:
    def finished():
        job = cluster.get("job", name, "-n", ns)
        done = [c for c in job.get("status", {}).get("conditions", [])
                if c["type"] in ("Complete", "Failed") and c["status"] == "True"]
        return (done[0], job) if done else None
    return cluster.wait_for(f"job {ns}/{name} to finish", finished, timeout=timeout)


def indexes(spec: str) -> set[int]:
    """'0,2-4' -> {0, 2, 3, 4}"""
    out: set[int] = set()
    for part in filter(None, spec.split(",")):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def test_should_complete_the_indexed_job_when_rank_0_succeeds(release, node_cluster):
    r = release("job.enabled=true", "mode=distributed", "worldSize=3", "examples.enabled=true", "persistence.enabled=false",
                "entrypoint.args=--epochs 2 --steps 3")
    r.install(wait=False)
    cond, job = job_condition(node_cluster, r.ns, "t-pytorch")
    assert cond["type"] == "Complete", cond
    assert job["status"]["succeeded"] >= 1
    assert job["status"].get("failed", 0) == 0
    assert 0 in indexes(job["status"]["completedIndexes"])
    # Kubernetes >= 1.33: the chart's successPolicy (rank 0 succeeded) is what completed it.
    assert any(c["type"] == "SuccessCriteriaMet" and c["status"] == "True" for c in job["status"]["conditions"])
    logs = node_cluster.kubectl("logs", "-n", r.ns, "-l", "batch.kubernetes.io/job-completion-index=0",
                                "-c", "pytorch").stdout
    assert '"rank": 0' in logs and '"ok": true' in logs and '"world_size": 3' in logs


def test_should_fail_the_job_at_once_on_a_failing_exit_code(release, node_cluster):
    r = release("job.enabled=true", "mode=distributed", "worldSize=2", "configMap=scripts", "persistence.enabled=false",
                "entrypoint.file=fail.py", "job.backoffLimit=6")
    node_cluster.kubectl("create", "configmap", "scripts", "-n", r.ns,
                         "--from-literal=fail.py=import sys\nprint('failing on purpose', flush=True)\nsys.exit(3)\n")
    r.install(wait=False, values={"job.podFailurePolicy.rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "pytorch", "operator": "In", "values": [3]}}]})
    cond, job = job_condition(node_cluster, r.ns, "t-pytorch")
    assert (cond["type"], cond["reason"]) == ("Failed", "PodFailurePolicy"), cond
    assert "exit code 3" in cond["message"]
    # backoffLimit 6 was not used: the rule failed the Job on the first failure.
    assert job["status"].get("failed", 0) <= 2


def test_should_retry_up_to_the_backoff_limit_without_a_matching_rule(release, node_cluster):
    r = release("job.enabled=true", "configMap=scripts", "entrypoint.file=fail.py", "job.backoffLimit=1")
    node_cluster.kubectl("create", "configmap", "scripts", "-n", r.ns,
                         "--from-literal=fail.py=import sys\nsys.exit(5)\n")
    r.install(wait=False)
    cond, job = job_condition(node_cluster, r.ns, "t-pytorch")
    assert (cond["type"], cond["reason"]) == ("Failed", "BackoffLimitExceeded"), cond
    assert job["status"]["failed"] == 2   # the first try and one retry
