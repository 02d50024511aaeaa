"""Where the code comes from, on the real node: an existing ConfigMap, files/ in the chart,
and a git clone by the init container from a git server inside the cluster's namespace.

Proves (running containers): each source is mounted at /app, the entrypoint runs from
there with its arguments, and the git init container (uid 1001, read-only root) checks
out exactly repository@revision; a private repository over HTTPS-style Basic auth is cloned
with the credentials of cloneFilesFromGit.existingSecret, which no process's command line or
environment holds while git fetches.
"""
from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.tools import ROOT

from .test_job import job_condition

pytestmark = pytest.mark.node

NODE_IP = "10.245.0.1"   # hack/cluster/lib.sh: the node's IP on the pod bridge
JOB = ("job.enabled=true", "entrypoint.args=alpha --beta=2")
# Prints where it runs, what /app holds, its arguments, and the checked-out commit if any.
SCRIPT = ("import os, sys\n"
          "head = open('/app/.git/HEAD').read().strip() if os.path.exists('/app/.git') else ''\n"
          "print('MARKER', {tag!r}, os.getcwd(), sorted(f for f in os.listdir('/app') if not f.startswith('.')),"
          " sys.argv[1:], head, flush=True)\n")


def run_to_completion(node_cluster, r, **install) -> tuple[dict, str]:
    """Install the Job-mode release, wait until the Job finishes; (condition, pytorch logs)."""
    r.install(wait=False, **install)
    cond, _ = job_condition(node_cluster, r.ns, "t-pytorch")
    return cond, node_cluster.kubectl("logs", "-n", r.ns, "job/t-pytorch", "-c", "pytorch").stdout


def marker(logs: str) -> str:
    return next(line.rstrip() for line in logs.splitlines() if line.startswith("MARKER"))


def test_should_run_the_entrypoint_from_an_existing_configmap(release, node_cluster):
    r = release(*JOB, "configMap=my-code", "entrypoint.file=main.py")
    node_cluster.kubectl("create", "configmap", "my-code", "-n", r.ns,
                         f"--from-literal=main.py={SCRIPT.format(tag='configmap')}", "--from-literal=extra.txt=x")
    cond, logs = run_to_completion(node_cluster, r)
    assert cond["type"] == "Complete"
    assert marker(logs) == "MARKER configmap /app ['extra.txt', 'main.py'] ['alpha', '--beta=2']"


def test_should_run_the_entrypoint_from_files_in_the_chart(release, node_cluster, tmp_path):
    chart = tmp_path / "pytorch"
    shutil.copytree(ROOT, chart, ignore=shutil.ignore_patterns(
        ".git", "bin", ".venv", ".cache", "dist", "node_modules", "tests", "docs", "hack", "__pycache__"))
    (chart / "files" / "main.py").write_text(SCRIPT.format(tag="chart"))
    r = release(*JOB, "entrypoint.file=main.py")
    cond, logs = run_to_completion(node_cluster, r, chart=str(chart))
    assert cond["type"] == "Complete"
    assert marker(logs) == "MARKER chart /app ['main.py'] ['alpha', '--beta=2']"


def make_repository(tmp_path) -> tuple[Path, str]:
    """A bare repository serve/repo.git with two commits: tag v1 (train.py says v1) and main
    (train.py says v2, and later.txt); returns (serve, v1's commit)."""
    repo = tmp_path / "src"
    repo.mkdir()
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    git = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, env=env,  # noqa: E731
                                    capture_output=True, text=True).stdout.strip()
    git("init", "-q", "-b", "main")
    (repo / "train.py").write_text(SCRIPT.format(tag="v1"))
    git("add", "."); git("commit", "-qm", "v1"); git("tag", "v1")
    v1 = git("rev-parse", "HEAD")
    (repo / "train.py").write_text(SCRIPT.format(tag="v2"))
    (repo / "later.txt").write_text("only on main\n")
    git("add", "."); git("commit", "-qm", "v2")
    serve = tmp_path / "serve"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(serve / "repo.git")], check=True, env=env)
    return serve, v1


def serve_in_namespace(node_cluster, argv: list[str], ready: list[str]) -> subprocess.Popen:
    """Start ARGV on the node IP inside the cluster's namespace; wait until READY succeeds there."""
    server = subprocess.Popen(["nsenter", f"--net=/run/netns/{node_cluster.netns}", "--", *argv],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while node_cluster.run(*ready, check=False).returncode:
        assert server.poll() is None and time.monotonic() < deadline, server.stderr.read() if server.poll() else "timeout"
        time.sleep(0.1)
    return server


@pytest.fixture
def git_server(node_cluster, tmp_path):
    """A git daemon on the node IP inside the cluster's namespace, serving make_repository's."""
    serve, v1 = make_repository(tmp_path)
    daemon = serve_in_namespace(node_cluster, [
        "git", "daemon", "--reuseaddr", f"--listen={NODE_IP}", "--port=9418", f"--base-path={serve}",
        "--export-all", str(serve)], ["git", "ls-remote", f"git://{NODE_IP}/repo.git"])
    yield f"git://{NODE_IP}/repo.git", v1
    daemon.terminate()
    daemon.wait(10)


@pytest.fixture
def private_git_server(node_cluster, tmp_path):
    """make_repository's, over smart HTTP with Basic authentication (tests/node/githttp.py),
    on the node IP inside the cluster's namespace; yields (url, v1, user, password, log path)."""
    serve, v1 = make_repository(tmp_path)
    user, password = "trainer", "tok-" + secrets.token_hex(16)
    (tmp_path / "password").write_text(password)
    log = tmp_path / "requests.jsonl"
    url = f"http://{NODE_IP}:8418/repo.git"
    server = serve_in_namespace(node_cluster, [
        sys.executable, str(Path(__file__).with_name("githttp.py")), f"--listen={NODE_IP}:8418",
        f"--root={serve}", f"--user={user}", f"--password-file={tmp_path / 'password'}", f"--log={log}"],
        ["curl", "-s", "-o", "/dev/null", f"{url}/info/refs?service=git-upload-pack"])
    yield url, v1, user, password, log
    server.terminate()
    server.wait(10)


def test_should_clone_repository_at_revision_and_run_it(release, node_cluster, git_server):
    url, v1 = git_server
    r = release(*JOB, "cloneFilesFromGit.enabled=true", f"cloneFilesFromGit.repository={url}",
                "cloneFilesFromGit.revision=v1", "entrypoint.file=train.py")
    cond, logs = run_to_completion(node_cluster, r)
    assert cond["type"] == "Complete"
    # v1, not main: later.txt exists only on main.
    assert marker(logs) == f"MARKER v1 /app ['train.py'] ['alpha', '--beta=2'] {v1}"
    [pod] = node_cluster.pods(r.ns, "app.kubernetes.io/instance=t")
    [init] = pod["status"]["initContainerStatuses"]
    assert init["name"] == "git-clone" and init["state"]["terminated"]["exitCode"] == 0


def test_should_clone_a_private_repository_with_credentials_from_a_secret(release, node_cluster, private_git_server):
    url, v1, user, password, log = private_git_server
    r = release(*JOB, "cloneFilesFromGit.enabled=true", f"cloneFilesFromGit.repository={url}",
                "cloneFilesFromGit.revision=v1", "entrypoint.file=train.py", "cloneFilesFromGit.existingSecret=git-creds")
    node_cluster.kubectl("create", "secret", "generic", "git-creds", "-n", r.ns, "--type=kubernetes.io/basic-auth",
                         f"--from-literal=username={user}", f"--from-literal=password={password}")
    cond, logs = run_to_completion(node_cluster, r)
    assert cond["type"] == "Complete"
    assert marker(logs) == f"MARKER v1 /app ['train.py'] ['alpha', '--beta=2'] {v1}"
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    # git asks without credentials first, then with the Secret's (the server refuses anything else).
    assert requests[0]["status"] == 401 and any(q["authed"] and q["status"] == 200 for q in requests), requests
    # While git fetched, no process on the machine had the password in its command line or
    # environment, and the git processes of the pod were there to be looked at.
    assert [q["leaks"] for q in requests if q["authed"]] == [[] for q in requests if q["authed"]]
    assert any("remote-http" in cmd for q in requests if q["authed"] for cmd in q["gits"]), requests
    pod = node_cluster.kubectl("get", "pods", "-n", r.ns, "-o", "json").stdout
    assert password not in pod
