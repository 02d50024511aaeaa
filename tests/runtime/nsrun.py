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
deadline passes, or `fail_fast_s` after the first final non-zero exit; then it sends SIGTERM to
the stragglers' process groups and SIGKILL after `grace_s`.

What the kubelet does after start-up, when the spec asks for it (see podsim.run):
  - a pod's "liveness" (exec argv, initial delay, period, timeout, failure threshold) runs as
    the kubelet runs an exec probe, in the pod's namespaces and env, beside the other pods'
    probes (one slow probe holds back no other pod; past its timeout it is killed and fails);
    each failure is an event
    "unhealthy: <the probe's output>" (the kubelet's Unhealthy Event); after `failure_threshold`
    failures in a row the pod's processes get SIGTERM, then SIGKILL after `grace_s`;
  - a pod that exits non-zero or is killed by its probe starts again after `restart_delay_s`
    (restartPolicy Always, or the Job controller's replacement pod of the same index) while
    `restarts` allows; a later exit 0 ends it.
Each such step is an event {"t", "pod", "what"} in the result.

Standard library only; writes RESULT.json: {"launched", "interfaces", "events", "pods": [{"name",
"rc", "killed", "start", "end", "restarts", "probes" (liveness probe runs)}]}.
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
        # A container starts with no signal ignored; a harness started in the background of a
        # non-interactive shell has SIGINT and SIGQUIT ignored, which its children would inherit.
        for sig in (signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_DFL)

    return setup


class PodProc:
    """One pod: its current process, its restarts and its liveness probe's state."""

    def __init__(self, pod: dict, log, events: list) -> None:
        self.pod, self.log, self.events = pod, log, events
        self.restarts_left = pod.get("restarts", 0)
        self.restarts = 0
        self.proc = None
        self.start = self.end = self.next_start = None
        self.killed = False
        self.probe_failures = 0
        self.probes = 0
        self.probing = None  # (the running probe's process, when it started)
        self.next_probe = 0.0

    def event(self, what: str) -> None:
        self.events.append({"t": time.time(), "pod": self.pod["name"], "what": what})

    def launch(self) -> None:
        self.proc = subprocess.Popen(self.pod["argv"], env=self.pod["env"], cwd=self.pod["cwd"],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=preexec(self.pod))
        now = time.time()
        self.start = self.start or now
        self.next_start, self.probe_failures = None, 0
        if self.probing is not None:  # a probe of the previous process: its verdict is void
            try:
                os.killpg(self.probing[0].pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.probing[0].wait()
            self.probing[0].stdout.close()
            self.probing = None
        probe = self.pod.get("liveness")
        self.next_probe = now + (probe["initial_delay_s"] if probe else 0)

    def stop(self, grace: float) -> None:
        """SIGTERM to the pod's processes, SIGKILL after `grace` seconds."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            until = time.time() + wait
            while self.proc.poll() is None and time.time() < until:
                time.sleep(0.05)
            if self.proc.poll() is not None:
                return

    def probe(self, now: float, grace: float) -> None:
        """Start the liveness probe when it is due, or judge the one that is running. Probes run
        beside everything else, as the kubelet runs each in its own goroutine: a slow probe of
        one pod holds back no other pod. A probe past its timeout is killed (its process group)
        and counts as a failure."""
        spec = self.pod.get("liveness")
        if not spec:
            return
        if self.probing is None:
            if self.proc.poll() is not None or now < self.next_probe:
                return
            self.next_probe = now + spec["period_s"]
            self.probes += 1
            self.probing = (subprocess.Popen(spec["argv"], env=self.pod["env"], cwd=self.pod["cwd"],
                                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                             start_new_session=True, preexec_fn=preexec(self.pod)), now)
            return
        probe, started = self.probing
        if probe.poll() is None and now - started < spec["timeout_s"]:
            return
        if probe.poll() is None:
            try:
                os.killpg(probe.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            probe.wait()
            ok, output = False, f"timed out after {spec['timeout_s']} s"
        else:
            ok, output = probe.returncode == 0, probe.stdout.read().decode(errors="replace").strip()
        probe.stdout.close()
        self.probing = None
        if self.proc.poll() is not None:
            return  # the pod ended while its probe ran
        if not ok:  # the kubelet's "Unhealthy" Event: "Liveness probe failed: <output>"
            self.event(f"unhealthy: {output}")
        self.probe_failures = 0 if ok else self.probe_failures + 1
        if self.probe_failures >= spec["failure_threshold"]:
            self.event(f"liveness probe failed {self.probe_failures} times: killed")
            self.log.write(f"podsim: liveness probe failed {self.probe_failures} times, killing the pod\n".encode())
            self.log.flush()
            self.stop(grace)

    def poll(self, now: float) -> bool:
        """Advance this pod; True when it has ended for good (self.end is set)."""
        if self.end is not None:
            return True
        if self.next_start is not None:
            if now >= self.next_start:
                self.event(f"restart {self.restarts}")
                self.launch()
            return False
        rc = self.proc.poll()
        if rc is None:
            return False
        self.event(f"exited {rc}")
        if rc != 0 and self.restarts_left > 0:
            self.restarts_left -= 1
            self.restarts += 1
            self.next_start = now + self.pod.get("restart_delay_s", 1.0)
            return False
        self.end = now
        return True


def main(spec_path: str, result_path: str) -> int:
    with open(spec_path) as f:
        spec = json.load(f)
    interfaces = loopback_up()
    if interfaces != ["lo"]:
        raise SystemExit(f"the world's network namespace has more than loopback: {interfaces}")
    launched = time.time()
    events: list = []
    # Appending, as a container's log is a pipe: a line that another process writes into a pod's
    # log (/proc/<pid>/fd/2, as the chart's stack autopsy does) lands at the end, never over one.
    pods = [PodProc(pod, open(pod["log"], "ab"), events) for pod in spec["pods"]]
    for p in pods:
        p.launch()
    deadline = launched + spec["deadline_s"]
    stop_at = deadline
    while True:
        now = time.time()
        for p in pods:
            p.probe(now, spec["grace_s"])
            if p.end is None and p.poll(now) and p.proc.returncode != 0:
                stop_at = min(stop_at, now + spec["fail_fast_s"])
        if all(p.end is not None for p in pods) or now >= stop_at:
            break
        time.sleep(0.05)
    live = [p for p in pods if p.end is None]
    for sig, wait in ((signal.SIGTERM, spec["grace_s"]), (signal.SIGKILL, 5.0)):
        for p in live:
            p.killed = True
            try:
                os.killpg(p.proc.pid, sig)
            except ProcessLookupError:
                pass
        until = time.time() + wait
        while time.time() < until and any(p.proc.poll() is None for p in live):
            time.sleep(0.05)
    for p in live:
        p.proc.wait()
        p.end = time.time()
    for p in pods:
        p.log.close()
    result = {"launched": launched, "interfaces": interfaces, "events": events,
              "pods": [{"name": p.pod["name"], "rc": p.proc.returncode, "killed": p.killed, "start": p.start,
                        "end": p.end, "restarts": p.restarts, "probes": p.probes} for p in pods]}
    with open(result_path, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
