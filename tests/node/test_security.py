"""The chart's defaults on a real node, checked from inside the running container.

Proves (running container): the pod becomes Ready through the chart's own probes; the
process runs as 1001:1001 with fsGroup 1001; `/` is read-only while /tmp, HOME and the
caches are writable; /dev/shm is a tmpfs of `shm.sizeLimit`; no service-account token is
mounted; the data claim is writable by the non-root user (fsGroup applied by the kubelet).
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.node


def sh(cluster, ns, pod, script: str, check: bool = True):
    return cluster.exec(ns, pod, "sh", "-c", script, check=check)


def test_should_run_the_defaults_as_1001_on_a_read_only_root(release, node_cluster):
    r = release()
    r.install()
    [pod] = r.pods()
    name = pod["metadata"]["name"]
    cond = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert cond["Ready"] == "True"
    [st] = pod["status"]["containerStatuses"]
    assert st["ready"] is True and st["restartCount"] == 0

    # The main process (sleep infinity: no entrypoint) and an exec'd shell.
    status = sh(node_cluster, r.ns, name, "cat /proc/1/status").stdout
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Uid"].split() == ["1001"] * 4
    assert fields["Gid"].split() == ["1001"] * 4
    assert fields["Groups"].split() == ["1001"]
    assert sh(node_cluster, r.ns, name, "id -u; id -g").stdout.split() == ["1001", "1001"]

    ro = sh(node_cluster, r.ns, name, "touch /probe-root 2>&1; echo rc=$?", check=False).stdout
    assert "Read-only file system" in ro and ro.strip().endswith("rc=1")
    rw = sh(node_cluster, r.ns, name,
            'for d in /tmp "$HOME" "$XDG_CACHE_HOME" /data; do mkdir -p "$d" && touch "$d/w" && echo "ok $d"; done').stdout
    assert rw.split("\n")[:-1] == ["ok /tmp", "ok /tmp", "ok /tmp/.cache", "ok /data"]
    # fsGroup: the kubelet gave the claim to group 1001 (setgid), so files there are 1001's group.
    assert sh(node_cluster, r.ns, name, "stat -c '%g %A' /data /data/w").stdout.split("\n")[:2] == \
        ["1001 drwxrwsr-x", "1001 -rw-r--r--"]

    shm = sh(node_cluster, r.ns, name, "df -k /dev/shm | tail -1").stdout.split()
    assert shm[0] == "tmpfs" and int(shm[1]) == 1024 * 1024   # shm.sizeLimit 1Gi, in KiB

    token = sh(node_cluster, r.ns, name, "ls /var/run/secrets/kubernetes.io 2>&1; echo rc=$?", check=False).stdout
    assert token.strip().endswith("rc=2") and "No such file" in token
    assert not [v for v in pod["spec"]["volumes"] if "projected" in v]   # no token volume was injected


def test_should_apply_another_user_and_shm_size(release, node_cluster):
    r = release("securityContext.runAsUser=2345", "securityContext.runAsGroup=3456",
                "securityContext.fsGroup=4567", "shm.sizeLimit=192Mi")
    r.install()
    [pod] = r.pods()
    name = pod["metadata"]["name"]
    status = sh(node_cluster, r.ns, name, "cat /proc/1/status").stdout
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Uid"].split()[0] == "2345"
    assert fields["Gid"].split()[0] == "3456"
    assert sorted(fields["Groups"].split()) == ["3456", "4567"]
    assert int(sh(node_cluster, r.ns, name, "df -k /dev/shm | tail -1").stdout.split()[1]) == 192 * 1024
    assert sh(node_cluster, r.ns, name, "touch /data/x && stat -c %g /data/x").stdout.strip() == "4567"
