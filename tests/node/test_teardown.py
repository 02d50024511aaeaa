"""Success, then an abort at exit, on the real node (docs/fault-tolerance.md, "Success, then an
abort at exit").

Proves (running containers): in a Job with faultTolerance.enabled (launcher=python), a script
that writes SUCCESS_FILE and then dies of SIGABRT in its exit handlers (as torch's gloo teardown
can) completes the Job, while the same abort without the marker is restarted by the supervisor
and then fails the Job with exit code 134. The script is a plain python file from a ConfigMap:
os.abort() from an atexit handler, after its work, is the deterministic stand-in for the race.
"""
from __future__ import annotations

import pytest

from .test_job import job_condition

pytestmark = pytest.mark.node

SCRIPT = """import atexit, os, sys
print("work done", flush=True)
if sys.argv[1] == "marker":
    open(os.environ["SUCCESS_FILE"], "w").close()
atexit.register(os.abort)
"""
COUNTED = "pytorch-supervisor: attempt 0 exited 134 (SIGABRT) after writing SUCCESS_FILE; counted as success"


def start(release, node_cluster, where: str):
    r = release("job.enabled=true", "configMap=scripts", "entrypoint.file=abort_at_exit.py",
                f"entrypoint.args={where}", "persistence.enabled=false", "faultTolerance.enabled=true",
                "faultTolerance.maxRestarts=1", "job.backoffLimit=0")
    node_cluster.kubectl("create", "configmap", "scripts", "-n", r.ns, f"--from-literal=abort_at_exit.py={SCRIPT}")
    r.install(wait=False)
    cond, job = job_condition(node_cluster, r.ns, "t-pytorch")
    [pod] = node_cluster.pods(r.ns, "batch.kubernetes.io/job-name=t-pytorch")
    # The script's stdout and the supervisor's stderr are two streams: the container log keeps
    # the order within each, not between them. (sh's own "Aborted" notes are left out: whether
    # it prints one depends on when it reaps the child.)
    lines = node_cluster.logs(r.ns, pod["metadata"]["name"]).splitlines()
    log = (lines.count("work done"), [line for line in lines if line.startswith("pytorch-supervisor:")])
    return cond, job, pod["status"]["containerStatuses"][0]["state"]["terminated"], log


def test_should_complete_the_job_when_the_script_aborts_after_writing_the_success_file(release, node_cluster):
    cond, job, terminated, log = start(release, node_cluster, "marker")
    assert cond["type"] == "Complete", (cond, log)
    assert (job["status"].get("succeeded"), job["status"].get("failed", 0)) == (1, 0)
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    assert log == (1, [COUNTED])


def test_should_restart_and_then_fail_the_job_when_the_script_aborts_without_it(release, node_cluster):
    cond, job, terminated, log = start(release, node_cluster, "none")
    assert (cond["type"], cond["reason"]) == ("Failed", "BackoffLimitExceeded"), (cond, log)
    assert (job["status"].get("succeeded", 0), job["status"].get("failed")) == (0, 1)
    assert (terminated["exitCode"], terminated["reason"]) == (134, "Error")
    assert log == (2, ["pytorch-supervisor: attempt 0 exited 134; restart 1/1",
                       "pytorch-supervisor: attempt 1 exited 134; no restarts left"])
