"""`helm test` preflight of a distributed release: names what would break the run.

Runs in the chart's test hook pod (templates/tests/test-preflight.yaml), without API access, from
what cluster DNS and TCP tell it (docs/preflight.md):

  name    a rank's stable name <fullname>-<i>.<headless>... does not resolve (rank 0's only, unless
          the chart publishes every rank's: headlessService.allRanks);
  ranks   fewer pods with an address behind the hook's Service of every pod (it publishes
          not-ready pods) than worldSize;
  ready   a rank's address is missing from the hook's Service of Ready pods: named by its rank
          where it has a published name, by its address otherwise;
  blocked a connect to rank 0's master port is refused by a firewall (an ICMP error, read from
          the socket's error queue) or gets no answer: a NetworkPolicy;
  listen  the connect is refused by rank 0's kernel (a TCP reset): nothing listens on the port.

Prints one line per check, `FAIL [kind] ...; likely cause: ...` for each finding, and exits 1 on
any finding (2 on bad settings). Settings come from the environment:
  PREFLIGHT_RANK_HOST  rank names, with {rank} for the index
  PREFLIGHT_NAMED_RANKS how many ranks, from 0, have such a name (default WORLD_SIZE)
  PREFLIGHT_SUBDOMAIN  the ranks' headless Service, which publishes those names (default
                       PREFLIGHT_HEADLESS)
  PREFLIGHT_HEADLESS   a Service of every pod of the release with an address
  PREFLIGHT_READY      a Service of the Ready pods only
  WORLD_SIZE, MASTER_PORT, POD_IP (this pod's address, left out of both Services' answers)
  PREFLIGHT_TIMEOUT    seconds for the whole run (default 20)
"""
from __future__ import annotations

import errno
import os
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

IP_RECVERR, IPV6_RECVERR = 11, 25          # linux/in.h, linux/in6.h (Python names neither)
SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6 = 2, 3
CONNECT_TIMEOUT = 5.0
READY_SYNC = 10.0


@dataclass
class Connect:
    """The outcome of one TCP connect: 'connected', 'refused' (a TCP reset), 'rejected' (an
    ICMP error: a firewall), 'timeout', or 'error'; detail says more."""
    outcome: str
    detail: str = ""


@dataclass
class Settings:
    rank_host: str
    headless: str
    ready: str
    world_size: int
    port: int
    pod_ip: str
    timeout: float = 20.0
    named: int = 0          # ranks 0..named-1 have a published name; 0 reads as world_size
    subdomain: str = ""     # the Service that publishes them; "" reads as headless

    @property
    def named_ranks(self) -> int:
        return min(self.named or self.world_size, self.world_size)

    @property
    def names_service(self) -> str:
        return self.subdomain or self.headless

    @classmethod
    def from_env(cls, env: dict[str, str]) -> "Settings":
        try:
            settings = cls(rank_host=env["PREFLIGHT_RANK_HOST"], headless=env["PREFLIGHT_HEADLESS"],
                           ready=env["PREFLIGHT_READY"], world_size=int(env["WORLD_SIZE"]),
                           port=int(env["MASTER_PORT"]), pod_ip=env.get("POD_IP", ""),
                           timeout=float(env.get("PREFLIGHT_TIMEOUT", "20")),
                           named=int(env.get("PREFLIGHT_NAMED_RANKS", "0")),
                           subdomain=env.get("PREFLIGHT_SUBDOMAIN", ""))
        except KeyError as e:
            raise ValueError(f"{e.args[0]} is not set") from None
        except ValueError as e:
            raise ValueError(f"bad setting: {e}") from None
        if "{rank}" not in settings.rank_host:
            raise ValueError(f"PREFLIGHT_RANK_HOST={settings.rank_host!r} has no {{rank}}")
        if settings.world_size < 1:
            raise ValueError(f"WORLD_SIZE={settings.world_size} is below 1")
        return settings


def absolute(name: str) -> str:
    """NAME with a trailing dot when it is a dotted DNS name, so the resolver does not first try
    the search domains (the cluster's names have fewer dots than its ndots:5); addresses as is."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
        return name
    except OSError:
        return name.rstrip(".") + "." if "." in name else name


def resolve(name: str) -> tuple[set[str], str]:
    """The addresses NAME resolves to, or an empty set and why."""
    try:
        infos = socket.getaddrinfo(absolute(name), None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        return set(), e.strerror or str(e)
    return {i[4][0] for i in infos}, ""


def icmp_error(sock: socket.socket) -> str:
    """The ICMP error queued on SOCK (IP_RECVERR), as 'ICMP type T code C from ADDR', or ''."""
    sock.setblocking(False)
    try:
        _, ancillary, _, _ = sock.recvmsg(1, 512, socket.MSG_ERRQUEUE)
    except OSError:
        return ""
    for _, _, data in ancillary:
        if len(data) < 16:
            continue
        _, origin, icmp_type, code, _, _, _ = struct.unpack("=IBBBBII", data[:16])
        if origin not in (SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6):
            continue
        offender = data[16:]
        source = ""
        if len(offender) >= 8 and struct.unpack("=H", offender[:2])[0] == socket.AF_INET:
            source = " from " + socket.inet_ntop(socket.AF_INET, offender[4:8])
        elif len(offender) >= 24 and struct.unpack("=H", offender[:2])[0] == socket.AF_INET6:
            source = " from " + socket.inet_ntop(socket.AF_INET6, offender[8:24])
        return f"ICMP{'v6' if origin == SO_EE_ORIGIN_ICMP6 else ''} type {icmp_type} code {code}{source}"
    return ""


def connect(address: str, port: int, timeout: float) -> Connect:
    """One TCP connect to ADDRESS:PORT; a refusal is told apart by where it came from: an ICMP
    error in the socket's error queue is a firewall's, a bare reset is the host's own."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            return Connect("connected")
        except socket.timeout:
            return Connect("timeout", f"no answer within {timeout:g} s")
        except OSError as e:
            icmp = icmp_error(sock)
            reason = e.strerror or errno.errorcode.get(e.errno or 0, str(e))
            if icmp:
                return Connect("rejected", f"{reason} ({icmp})")
            if e.errno == errno.ECONNREFUSED:
                return Connect("refused", f"{reason} (TCP reset)")
            return Connect("error", reason)


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    findings: int = 0

    def ok(self, text: str) -> None:
        self.lines.append(f"ok   {text}")

    def fail(self, kind: str, text: str, cause: str) -> None:
        self.findings += 1
        self.lines.append(f"FAIL [{kind}] {text}; likely cause: {cause}")


def ready_addresses(s: Settings, lookup: Callable[[str], tuple[set[str], str]],
                    clock: Callable[[], float], sleep: Callable[[float], None], until: float) -> set[str] | None:
    """The Ready pods' addresses, once the hook Service's answer lists this pod (so that it is
    as new as this pod), polled until UNTIL; None when it never does."""
    while True:
        found, _ = lookup(s.ready)
        if not s.pod_ip or s.pod_ip in found:
            return found - {s.pod_ip}
        if clock() >= until:
            return None
        sleep(0.5)


def check(s: Settings, lookup: Callable[[str], tuple[set[str], str]] = resolve,
          dial: Callable[[str, int, float], Connect] = connect, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> Report:
    """Every check of the preflight; the report's lines in order, and its count of findings."""
    start = clock()
    end = start + s.timeout
    report = Report()
    ranks = {i: s.rank_host.format(rank=i) for i in range(s.named_ranks)}
    resolved = {i: lookup(name) for i, name in ranks.items()}
    headless, headless_error = lookup(s.headless)
    published, published_error = (headless, headless_error) if s.names_service == s.headless \
        else lookup(s.names_service)
    headless -= {s.pod_ip}
    ready = ready_addresses(s, lookup, clock, sleep, min(end, start + READY_SYNC))

    running = headless | (ready or set())
    if len(running) < s.world_size:
        missing = [i for i, (found, _) in resolved.items() if not found]
        report.fail("ranks", f"{len(running)} of worldSize {s.world_size} ranks have a pod behind {s.headless}"
                    + (f" (missing: rank {', '.join(map(str, missing))})" if missing else ""),
                    "the workload has fewer pods than worldSize (scaled down, deleted, or Pending without "
                    "an address: `kubectl get pods` and their events)")
    else:
        report.ok(f"{len(running)} ranks have a pod behind {s.headless} (worldSize {s.world_size})")

    for i, name in ranks.items():
        found, why = resolved[i]
        if found:
            report.ok(f"rank {i}: {name} resolves to {', '.join(sorted(found))}")
            continue
        if not published - {s.pod_ip}:
            cause = (f"the headless Service {s.names_service} does not resolve either ({published_error}): "
                     "it is missing or selects no pod, or cluster DNS does not answer")
        elif len(running) < s.world_size:
            cause = f"no pod holds rank {i} (fewer ranks running than worldSize)"
        else:
            cause = ("every rank has a pod, but none publishes this name: the pod's hostname or subdomain "
                     f"does not match the headless Service {s.names_service}")
        report.fail("name", f"rank {i}: {name} does not resolve ({why})", cause)

    if ready is None:
        report.fail("ready", f"cannot tell which ranks are Ready: {s.ready} does not list this pod "
                    f"({s.pod_ip}) within {READY_SYNC:g} s",
                    "the test hook's Service is missing or cluster DNS lags")
    else:
        for i, name in ranks.items():
            found = resolved[i][0]
            if found and not found & ready:
                report.fail("ready", f"rank {i}: {name} ({', '.join(sorted(found))}) is not Ready",
                            "its readiness probe fails or it is starting (`kubectl describe pod` shows the probe's "
                            "last message)")
            elif found:
                report.ok(f"rank {i}: Ready")
        if s.named_ranks < s.world_size:
            unnamed = headless - ready - {a for found, _ in resolved.values() for a in found}
            if unnamed:
                report.fail("ready", f"{len(unnamed)} of the ranks without a published name "
                            f"({', '.join(sorted(unnamed))}) not Ready",
                            "their readiness probe fails or they are starting (`kubectl get pods -o wide` finds "
                            "the pod by its address; `kubectl describe pod` shows the probe's last message)")
            else:
                report.ok(f"ranks {s.named_ranks}..{s.world_size - 1}: every pod with an address is Ready")

    master, _ = resolved[0]
    host = ranks[0]
    if not master:
        report.fail("blocked", f"rank 0: {host}:{s.port} not tried", "its name does not resolve (above)")
    else:
        address = sorted(master)[0]
        result = dial(address, s.port, max(0.5, min(CONNECT_TIMEOUT, end - clock())))
        target = f"rank 0: {host}:{s.port} ({address})"
        if result.outcome == "connected":
            report.ok(f"{target} accepts connections")
        elif result.outcome == "refused":
            report.fail("listen", f"{target} refused: {result.detail}",
                        "nothing listens on the master port: rank 0's process is not running or has not "
                        "opened its store yet, or it uses another port than MASTER_PORT")
        elif result.outcome in ("rejected", "timeout"):
            report.fail("blocked", f"{target} {'refused by a firewall' if result.outcome == 'rejected' else 'blocked'}: "
                        f"{result.detail}",
                        "a NetworkPolicy (or firewall) blocks the master port to this pod; the chart's policy "
                        "admits the release's own pods, so another policy selects rank 0 or this one was "
                        "changed (docs/network-policy.md)")
        else:
            report.fail("blocked", f"{target} unreachable: {result.detail}",
                        "no route to rank 0's pod, or a firewall rejects with a host error")
    return report


def main(env: dict[str, str] | None = None) -> int:
    try:
        settings = Settings.from_env(dict(os.environ if env is None else env))
    except ValueError as e:
        print(f"preflight: {e}", file=sys.stderr)
        return 2
    started = time.monotonic()
    report = check(settings)
    for line in report.lines:
        print(line)
    verdict = f"{report.findings} finding(s)" if report.findings else "no findings"
    print(f"preflight: {verdict} for {settings.world_size} ranks, master port {settings.port}, "
          f"in {time.monotonic() - started:.1f} s")
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
