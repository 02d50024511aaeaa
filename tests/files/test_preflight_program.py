"""files/tests/preflight.py, the distributed `helm test` preflight, run as a program: its checks
against a fake cluster DNS and fake connects (every finding's exact line), its connects against
real listeners on loopback, and the whole program as a process (exit status, output, bad
settings). The real node proves it in a container: tests/node/test_preflight.py."""
from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import threading

import pytest

from harness.tools import ROOT

PROGRAM = ROOT / "files" / "tests" / "preflight.py"
_spec = importlib.util.spec_from_file_location("preflight", PROGRAM)
preflight = importlib.util.module_from_spec(_spec)
sys.modules["preflight"] = preflight
_spec.loader.exec_module(preflight)

NS = "team-a.svc.cluster.local"
RANK = "job-pytorch-{rank}.job-pytorch-headless." + NS
HEADLESS, READY = "job-pytorch-headless." + NS, "job-pytorch-preflight." + NS
SELF = "10.1.0.99"
PORT = 29613
IPS = {0: "10.1.0.10", 1: "10.1.0.11", 2: "10.1.0.12", 3: "10.1.0.13"}


def settings(world: int = 4) -> "preflight.Settings":
    return preflight.Settings(rank_host=RANK, headless=HEADLESS, ready=READY, world_size=world, port=PORT,
                              pod_ip=SELF, timeout=20.0)


class Cluster:
    """A fake cluster DNS (name -> addresses), a fake connect outcome, and a fake clock that the
    program's sleeps advance."""

    def __init__(self, ranks: dict[int, str] | None = None, ready: set[int] | None = None,
                 connect: "preflight.Connect | None" = None, headless: bool = True, ready_lists_self: bool = True):
        ranks = dict(IPS) if ranks is None else ranks
        ready = set(ranks) if ready is None else ready
        self.names = {RANK.format(rank=i): {ip} for i, ip in ranks.items()}
        if headless:
            self.names[HEADLESS] = {*ranks.values(), SELF}
        self.names[READY] = {ranks[i] for i in ready} | ({SELF} if ready_lists_self else set())
        self.outcome = connect or preflight.Connect("connected")
        self.now, self.dialed = 100.0, []

    def lookup(self, name: str):
        found = self.names.get(name, set())
        return set(found), "" if found else "Name or service not known"

    def dial(self, address: str, port: int, timeout: float):
        self.dialed.append((address, port, timeout))
        return self.outcome

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def run(self, world: int = 4):
        return preflight.check(settings(world), lookup=self.lookup, dial=self.dial, clock=self.clock,
                               sleep=self.sleep)


def fails(report) -> list[str]:
    return [line for line in report.lines if line.startswith("FAIL")]


def host(i: int) -> str:
    return RANK.format(rank=i)


def test_should_pass_a_healthy_release_with_one_line_per_check():
    c = Cluster()
    report = c.run()
    assert report.findings == 0
    assert report.lines == [
        f"ok   4 ranks have a pod behind {HEADLESS} (worldSize 4)",
        *[f"ok   rank {i}: {host(i)} resolves to {IPS[i]}" for i in range(4)],
        *[f"ok   rank {i}: Ready" for i in range(4)],
        f"ok   rank 0: {host(0)}:{PORT} ({IPS[0]}) accepts connections"]
    assert c.dialed == [(IPS[0], PORT, preflight.CONNECT_TIMEOUT)]


def test_should_name_every_rank_when_the_headless_service_does_not_resolve():
    c = Cluster(headless=False)
    for i in range(4):
        del c.names[host(i)]
    report = c.run(world=3)
    cause = (f"the headless Service {HEADLESS} does not resolve either (Name or service not known): it is missing "
             "or selects no pod, or cluster DNS does not answer")
    assert fails(report) == [
        *[f"FAIL [name] rank {i}: {host(i)} does not resolve (Name or service not known); likely cause: {cause}"
          for i in range(3)],
        f"FAIL [blocked] rank 0: {host(0)}:{PORT} not tried; likely cause: its name does not resolve (above)"]
    assert c.dialed == []


def test_should_name_a_rank_whose_pod_runs_but_publishes_no_name():
    c = Cluster()
    del c.names[host(2)]
    assert fails(c.run()) == [
        f"FAIL [name] rank 2: {host(2)} does not resolve (Name or service not known); likely cause: every rank has "
        f"a pod, but none publishes this name: the pod's hostname or subdomain does not match the headless "
        f"Service {HEADLESS}"]


def test_should_count_fewer_ranks_than_world_size_and_name_the_missing_ones():
    report = Cluster(ranks={0: IPS[0], 1: IPS[1], 3: IPS[3]}).run(world=5)
    assert fails(report) == [
        f"FAIL [ranks] 3 of worldSize 5 ranks have a pod behind {HEADLESS} (missing: rank 2, 4); likely cause: the "
        "workload has fewer pods than worldSize (scaled down, deleted, or Pending without an address: "
        "`kubectl get pods` and their events)",
        *[f"FAIL [name] rank {i}: {host(i)} does not resolve (Name or service not known); likely cause: no pod "
          f"holds rank {i} (fewer ranks running than worldSize)" for i in (2, 4)]]
    assert report.findings == 3


def test_should_name_a_rank_that_is_not_ready_apart_from_a_missing_one():
    report = Cluster(ready={0, 1, 3}).run()
    assert fails(report) == [
        f"FAIL [ready] rank 2: {host(2)} ({IPS[2]}) is not Ready; likely cause: its readiness probe fails or it is "
        "starting (`kubectl describe pod` shows the probe's last message)"]


def test_should_wait_for_its_own_ready_address_and_then_report_readiness_unknown():
    c = Cluster(ready_lists_self=False)
    report = c.run()
    assert fails(report) == [
        f"FAIL [ready] cannot tell which ranks are Ready: {READY} does not list this pod ({SELF}) within 10 s; "
        "likely cause: the test hook's Service is missing or cluster DNS lags"]
    assert c.now == 100.0 + preflight.READY_SYNC
    # The connect still gets the time left, at most CONNECT_TIMEOUT.
    assert c.dialed == [(IPS[0], PORT, preflight.CONNECT_TIMEOUT)]


def test_should_take_the_ready_answer_once_it_lists_this_pod():
    c = Cluster()
    answers = iter([{IPS[0]}, {IPS[0], IPS[1], IPS[2], IPS[3], SELF}])
    lookup = c.lookup
    c.lookup = lambda name: (next(answers), "") if name == READY else lookup(name)
    assert c.run().findings == 0
    assert c.now == 100.5


@pytest.mark.parametrize("outcome,line", [
    (preflight.Connect("refused", "Connection refused (TCP reset)"),
     f"FAIL [listen] rank 0: {RANK.format(rank=0)}:{PORT} ({IPS[0]}) refused: Connection refused (TCP reset); "
     "likely cause: nothing listens on the master port: rank 0's process is not running or has not opened its "
     "store yet, or it uses another port than MASTER_PORT"),
    (preflight.Connect("rejected", "Connection refused (ICMP type 3 code 3 from 10.1.0.1)"),
     f"FAIL [blocked] rank 0: {RANK.format(rank=0)}:{PORT} ({IPS[0]}) refused by a firewall: Connection refused "
     "(ICMP type 3 code 3 from 10.1.0.1); likely cause: a NetworkPolicy (or firewall) blocks the master port to "
     "this pod; the chart's policy admits the release's own pods, so another policy selects rank 0 or this one "
     "was changed (docs/network-policy.md)"),
    (preflight.Connect("timeout", "no answer within 5 s"),
     f"FAIL [blocked] rank 0: {RANK.format(rank=0)}:{PORT} ({IPS[0]}) blocked: no answer within 5 s; likely "
     "cause: a NetworkPolicy (or firewall) blocks the master port to this pod; the chart's policy admits the "
     "release's own pods, so another policy selects rank 0 or this one was changed (docs/network-policy.md)"),
    (preflight.Connect("error", "No route to host"),
     f"FAIL [blocked] rank 0: {RANK.format(rank=0)}:{PORT} ({IPS[0]}) unreachable: No route to host; likely "
     "cause: no route to rank 0's pod, or a firewall rejects with a host error"),
], ids=["listen", "rejected", "dropped", "unreachable"])
def test_should_tell_a_blocked_master_port_from_one_where_nothing_listens(outcome, line):
    assert fails(Cluster(connect=outcome).run()) == [line]


# -- real sockets on loopback -----------------------------------------------------------------
@pytest.fixture
def listener():
    """A TCP listener on 127.0.0.10 (loopback) that accepts and closes; yields its port."""
    sock = socket.socket()
    sock.bind(("127.0.0.10", 0))
    sock.listen(8)
    stop = threading.Event()

    def serve():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                sock.accept()[0].close()
            except OSError:
                pass
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    sock.close()


def closed_port() -> int:
    """A loopback port that nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.10", 0))
        return s.getsockname()[1]


def test_should_connect_to_a_listener_and_read_a_reset_as_nothing_listening(listener):
    assert preflight.connect("127.0.0.10", listener, 2.0) == preflight.Connect("connected")
    assert preflight.connect("127.0.0.10", closed_port(), 2.0) == \
        preflight.Connect("refused", "Connection refused (TCP reset)")


def run(port: int, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "PREFLIGHT_RANK_HOST": "127.0.0.1{rank}", "PREFLIGHT_HEADLESS": "127.0.0.10",
            "PREFLIGHT_READY": "127.0.0.10", "WORLD_SIZE": "1", "MASTER_PORT": str(port), "POD_IP": "",
            "PREFLIGHT_TIMEOUT": "5"}
    return subprocess.run([sys.executable, str(PROGRAM)], env={**base, **env}, capture_output=True, text=True,
                          timeout=30)


def test_should_exit_zero_as_a_process_when_the_master_port_listens(listener):
    proc = run(listener)
    lines = proc.stdout.splitlines()
    assert (proc.returncode, proc.stderr) == (0, "")
    assert lines[:-1] == ["ok   1 ranks have a pod behind 127.0.0.10 (worldSize 1)",
                          "ok   rank 0: 127.0.0.10 resolves to 127.0.0.10", "ok   rank 0: Ready",
                          f"ok   rank 0: 127.0.0.10:{listener} (127.0.0.10) accepts connections"]
    assert lines[-1].startswith(f"preflight: no findings for 1 ranks, master port {listener}, in ")


def test_should_exit_one_as_a_process_and_name_the_port_nothing_listens_on():
    port = closed_port()
    proc = run(port)
    assert proc.returncode == 1, proc.stdout
    assert [line for line in proc.stdout.splitlines() if line.startswith("FAIL")] == [
        f"FAIL [listen] rank 0: 127.0.0.10:{port} (127.0.0.10) refused: Connection refused (TCP reset); likely "
        "cause: nothing listens on the master port: rank 0's process is not running or has not opened its store "
        "yet, or it uses another port than MASTER_PORT"]
    assert proc.stdout.splitlines()[-1].startswith(f"preflight: 1 finding(s) for 1 ranks, master port {port}, in ")


@pytest.mark.parametrize("env,message", [
    ({"WORLD_SIZE": None}, "preflight: WORLD_SIZE is not set"),
    ({"MASTER_PORT": "dist"}, "preflight: bad setting: invalid literal for int() with base 10: 'dist'"),
    ({"PREFLIGHT_RANK_HOST": "rank.headless"}, "preflight: PREFLIGHT_RANK_HOST='rank.headless' has no {rank}"),
    ({"WORLD_SIZE": "0"}, "preflight: WORLD_SIZE=0 is below 1"),
], ids=["missing", "not-a-number", "no-rank", "no-ranks"])
def test_should_refuse_bad_settings_naming_the_variable(env, message, capsys):
    base = {"PREFLIGHT_RANK_HOST": "r-{rank}", "PREFLIGHT_HEADLESS": "h", "PREFLIGHT_READY": "p",
            "WORLD_SIZE": "3", "MASTER_PORT": "29613"}
    merged = {k: v for k, v in {**base, **env}.items() if v is not None}
    assert preflight.main(merged) == 2
    assert capsys.readouterr() == ("", message + "\n")


# The chart's default: the ranks' headless Service publishes rank 0's name only
# (headlessService.allRanks=false); the hook's own Services count and judge every pod.
PODS = "job-pytorch-preflight-pods." + NS


class RankZeroCluster(Cluster):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.names[PODS] = self.names.pop(HEADLESS, set())
        for i in range(1, 8):
            self.names.pop(host(i), None)
        if host(0) in self.names:
            self.names[HEADLESS] = set(self.names[host(0)])

    def run(self, world: int = 4):
        s = preflight.Settings(rank_host=RANK, headless=PODS, ready=READY, world_size=world, port=PORT,
                               pod_ip=SELF, timeout=20.0, named=1, subdomain=HEADLESS)
        return preflight.check(s, lookup=self.lookup, dial=self.dial, clock=self.clock, sleep=self.sleep)


def test_should_check_rank_zero_by_name_and_the_others_by_address_when_only_rank_zero_is_published():
    report = RankZeroCluster().run()
    assert report.findings == 0
    assert report.lines == [
        f"ok   4 ranks have a pod behind {PODS} (worldSize 4)",
        f"ok   rank 0: {host(0)} resolves to {IPS[0]}",
        "ok   rank 0: Ready",
        "ok   ranks 1..3: every pod with an address is Ready",
        f"ok   rank 0: {host(0)}:{PORT} ({IPS[0]}) accepts connections"]


def test_should_name_an_unpublished_rank_that_is_not_ready_by_its_address():
    assert fails(RankZeroCluster(ready={0, 1, 3}).run()) == [
        f"FAIL [ready] 1 of the ranks without a published name ({IPS[2]}) not Ready; likely cause: their readiness "
        "probe fails or they are starting (`kubectl get pods -o wide` finds the pod by its address; `kubectl "
        "describe pod` shows the probe's last message)"]


def test_should_count_missing_unpublished_ranks_through_the_hooks_service():
    assert fails(RankZeroCluster(ranks={0: IPS[0], 1: IPS[1]}).run(world=3)) == [
        f"FAIL [ranks] 2 of worldSize 3 ranks have a pod behind {PODS}; likely cause: the workload has fewer pods "
        "than worldSize (scaled down, deleted, or Pending without an address: `kubectl get pods` and their events)"]


def test_should_blame_the_ranks_headless_service_when_it_is_gone_and_every_pod_runs():
    c = RankZeroCluster()
    del c.names[HEADLESS], c.names[host(0)]
    assert fails(c.run()) == [
        f"FAIL [name] rank 0: {host(0)} does not resolve (Name or service not known); likely cause: the headless "
        f"Service {HEADLESS} does not resolve either (Name or service not known): it is missing or selects no pod, "
        "or cluster DNS does not answer",
        f"FAIL [blocked] rank 0: {host(0)}:{PORT} not tried; likely cause: its name does not resolve (above)"]


def test_should_read_the_named_ranks_and_their_service_from_the_environment():
    s = preflight.Settings.from_env({"PREFLIGHT_RANK_HOST": "r-{rank}", "PREFLIGHT_HEADLESS": "all",
                                     "PREFLIGHT_READY": "ready", "WORLD_SIZE": "5", "MASTER_PORT": "1234",
                                     "PREFLIGHT_NAMED_RANKS": "1", "PREFLIGHT_SUBDOMAIN": "ranks"})
    assert (s.named_ranks, s.names_service, s.headless) == (1, "ranks", "all")
    s = preflight.Settings.from_env({"PREFLIGHT_RANK_HOST": "r-{rank}", "PREFLIGHT_HEADLESS": "all",
                                     "PREFLIGHT_READY": "ready", "WORLD_SIZE": "5", "MASTER_PORT": "1234"})
    assert (s.named_ranks, s.names_service) == (5, "all")
