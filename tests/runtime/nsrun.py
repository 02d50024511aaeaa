"""Start a world of simulated pods and wait for them; runs as PID 1 of fresh namespaces.

podsim.run() starts it as
    unshare --mount --net --uts --pid --fork --kill-child --mount-proc --propagation private -- \
        python nsrun.py SPEC.json RESULT.json
so it runs in a new network namespace (only `lo`, which it brings up: no traffic can leave
127.0.0.0/8), a new mount namespace, and a new PID namespace (when it exits or is killed,
the kernel kills every process left in the world).

Each pod is started with its own mount and UTS namespace (in the child, before exec): its
hosts file bind-mounted over /etc/hosts and its hostname set; then the rendered command is
exec'd (as the runner's user). Every pod starts at once; the runner polls until all have exited, the
deadline passes, or `fail_fast_s` after the first non-zero exit; then it sends SIGTERM to
the stragglers' process groups and SIGKILL after `grace_s`.

Standard library only; writes RESULT.json: {"launched", "interfaces", "pods": [{"name", "rc",
"killed", "start", "end"}]}.
"""
from __future__ import annotations

import ctypes
import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def loopback_up() -> list[str]:
    """Bring `lo` up in this network namespace; return the interfaces it has."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, ifr)[:18])[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    return [name for _, name in socket.if_nameindex()]


def preexec(pod: dict):
    hosts, hostname = pod["hosts"].encode(), pod["hostname"].encode()

    def setup() -> None:
        _check(libc.unshare(CLONE_NEWNS | CLONE_NEWUTS), "unshare")
        _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
        _check(libc.mount(hosts, b"/etc/hosts", None, MS_BIND, None), "bind-mount /etc/hosts")
        _check(libc.sethostname(hostname, len(hostname)), "sethostname")

    return setup


def main(spec_path: str, result_path: str) -> int:
    with open(spec_path) as f:
        spec = json.load(f)
    interfaces = loopback_up()
    if interfaces != ["lo"]:
        raise SystemExit(f"the world's network namespace has more than loopback: {interfaces}")
    launched = time.time()
    procs, logs, starts = [], [], []
    for pod in spec["pods"]:
        log = open(pod["log"], "wb")
        logs.append(log)
        starts.append(time.time())
        procs.append(subprocess.Popen(pod["argv"], env=pod["env"], cwd=pod["cwd"], stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                      preexec_fn=preexec(pod)))
    ends: list[float | None] = [None] * len(procs)
    killed = [False] * len(procs)
    deadline = launched + spec["deadline_s"]
    stop_at = deadline
    while True:
        now = time.time()
        for i, p in enumerate(procs):
            if ends[i] is None and p.poll() is not None:
                ends[i] = now
                if p.returncode != 0:
                    stop_at = min(stop_at, now + spec["fail_fast_s"])
        if all(e is not None for e in ends) or now >= stop_at:
            break
        time.sleep(0.05)
    live = [i for i, e in enumerate(ends) if e is None]
    for sig, wait in ((signal.SIGTERM, spec["grace_s"]), (signal.SIGKILL, 5.0)):
        for i in live:
            killed[i] = True
            try:
                os.killpg(procs[i].pid, sig)
            except ProcessLookupError:
                pass
        until = time.time() + wait
        while live and time.time() < until:
            live = [i for i in live if procs[i].poll() is None]
            time.sleep(0.05)
    for i, p in enumerate(procs):
        if ends[i] is None:
            p.wait()
            ends[i] = time.time()
    for log in logs:
        log.close()
    result = {"launched": launched, "interfaces": interfaces,
              "pods": [{"name": pod["name"], "rc": p.returncode, "killed": killed[i], "start": starts[i],
                        "end": ends[i]} for i, (pod, p) in enumerate(zip(spec["pods"], procs))]}
    with open(result_path, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
