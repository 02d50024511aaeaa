"""pytorch-autopsy: when a rank stops making progress, write the stacks of every thread of every
Python process of this pod into that process's log, and name the rank that stopped first.

The chart's liveness probe (liveness.sh) runs it in the PyTorch container, with the container's
environment, when the pod's HEARTBEAT_FILE is stale (or about to be: see liveness.sh), or, with
a shared checkpoint volume, when another pod's is (docs/fault-tolerance.md, "When a rank
hangs: the stack autopsy"). Standard library only; it never imports torch.

usage: python autopsy.py --trigger=failing|stalled|peer --dir=DIR [--shared-dir=DIR]
                         --period-seconds=P --failure-threshold=F --deadline-seconds=S

  failing   this pod's heartbeat is older than heartbeat.timeoutSeconds: the probe fails now,
            and the kubelet kills the container after F failures, P seconds apart;
  stalled   older than the dump threshold (below the collective timeout), not yet failing;
  peer      another pod raised an alarm on the shared volume; this pod's own heartbeat is fresh.

What it does, once per episode (one stall of the group):
  1. Every process armed by sitecustomize.py (a file DIR/stacks/<pid>, the process alive and
     catching SIGUSR1) gets SIGUSR1; faulthandler writes its threads' stacks to that file.
  2. Each dump is copied, line by line and prefixed "pytorch-autopsy: rank R | ", into the
     process's own stderr (/proc/<pid>/fd/2: the container log, or wherever torchrun sends a
     worker's output), after a header line, and followed by one line that says where its main
     thread is: inside a collective (torch.distributed, or backward, where DDP's gradient
     all-reduce waits) or not.
  3. A report (this pod's rank, step and heartbeat, each process's place) goes to
     DIR/state and, with --shared-dir, to <shared>/episodes/<episode>/pod-<rank>.json; a pod
     that stalls raises <shared>/alarm-<rank> so that the other pods dump too.
  4. Once every pod has reported (or at this pod's last failing probe before the kill), one line
     names the culprit, in this pod's log and on stdout (the kubelet puts a failing probe's
     output into the pod's "Liveness probe failed" Event):
       pytorch-autopsy: culprit: rank 2 stopped first, at step 9 (...); ranks 0, 1, 3 wait in all_reduce (...)
Exit status 0 (the probe's verdict is liveness.sh's, not this program's); 2 on wrong options.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

SIGNAL = signal.SIGUSR1
PREFIX = "pytorch-autopsy:"
HEADER = re.compile(r"# pytorch-stacks pid=(\d+)(?P<rest>.*?) argv=(?P<argv>.*)$")
THREAD = re.compile(r"^(Current thread|Thread) (0x[0-9a-fA-F]+) \(most recent call first\):$")
FRAME = re.compile(r'^  File "(?P<file>.*)", line (?P<line>\d+) in (?P<func>.*)$')
KEEP_EPISODES = 5       # episode folders kept on the shared volume
SETTLE = 0.1            # a dump is complete once its file stopped growing for this long
LIBRARY = ("/site-packages/", "/dist-packages/", "/lib/python3")


# --------------------------------------------------------------------------- the pod

def env_int(*names: str, default: int | None = None) -> int | None:
    for name in names:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return default


def pod_identity() -> dict:
    """This pod's rank among the pods (NODE_RANK with torchrun, RANK with python), how many pods
    there are (NNODES, WORLD_SIZE), and its name."""
    return {"pod_rank": env_int("NODE_RANK", "RANK", default=0), "pods": env_int("NNODES", "WORLD_SIZE", default=1),
            "pod": os.environ.get("POD_NAME") or os.uname().nodename}


def heartbeat() -> dict | None:
    """HEARTBEAT_FILE's time and the step written in it (the first integer; None when it holds
    none), or None when there is no heartbeat."""
    path = os.environ.get("HEARTBEAT_FILE")
    if not path:
        return None
    try:
        mtime = os.stat(path).st_mtime
        with open(path, errors="replace") as f:
            text = f.read(200)
    except OSError:
        return None
    m = re.search(r"\d+", text)
    return {"beat": mtime, "step": int(m.group()) if m else None}


# --------------------------------------------------------------------------- processes

class Armed:
    """A process that sitecustomize.py armed: its pid, its dump file and what it said of itself."""

    def __init__(self, pid: int, path: Path, env: dict, argv: str):
        self.pid, self.path, self.env, self.argv = pid, path, env, argv
        self.start = path.stat().st_size
        self.text = ""

    @property
    def rank(self) -> int | None:
        value = self.env.get("RANK", "")
        return int(value) if value.isdigit() else None

    def label(self) -> str:
        """"rank R", or for a process without a rank (torchrun's agent) its program's name."""
        if self.rank is not None:
            return f"rank {self.rank}"
        return os.path.basename(self.argv.split(" ", 1)[0]) or f"pid {self.pid}"


def catches(pid: int, sig: int) -> bool:
    """Whether process `pid` has a handler for `sig` (SigCgt in /proc/<pid>/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    m = re.search(r"^SigCgt:\s*([0-9a-fA-F]+)$", status, re.M)
    return bool(m) and bool(int(m.group(1), 16) >> (sig - 1) & 1)


def armed_processes(stacks: Path) -> list[Armed]:
    """The live processes of this container that can dump, oldest (lowest pid) first."""
    found = []
    for path in stacks.glob("*"):
        if not path.name.isdigit():
            continue
        pid = int(path.name)
        try:
            with open(path, errors="replace") as f:
                first = f.readline().rstrip("\n")
        except OSError:
            continue
        m = HEADER.match(first)
        if not m or int(m.group(1)) != pid or not catches(pid, SIGNAL):
            continue
        env = dict(kv.split("=", 1) for kv in m.group("rest").split() if "=" in kv)
        found.append(Armed(pid, path, env, m.group("argv")))
    return sorted(found, key=lambda p: p.pid)


def dump(processes: list[Armed], until: float) -> None:
    """Signal every process, then wait until each dump stopped growing (or `until`)."""
    for p in processes:
        try:
            os.kill(p.pid, SIGNAL)
        except OSError:
            pass
    pending = {p.pid: p for p in processes}
    last_size = {p.pid: p.start for p in processes}
    last_change = {p.pid: time.monotonic() for p in processes}
    while pending and time.monotonic() < until:
        time.sleep(0.02)
        now = time.monotonic()
        for pid, p in list(pending.items()):
            try:
                size = p.path.stat().st_size
            except OSError:
                del pending[pid]
                continue
            if size != last_size[pid]:
                last_size[pid], last_change[pid] = size, now
            elif size > p.start and now - last_change[pid] >= SETTLE:
                del pending[pid]
    for p in processes:
        try:
            with open(p.path, "rb") as f:
                f.seek(p.start)
                p.text = f.read().decode(errors="replace")
        except OSError:
            p.text = ""


def threads(text: str) -> list[list[dict]]:
    """The frames of each thread in a faulthandler dump, innermost first."""
    out: list[list[dict]] = []
    for line in text.splitlines():
        if THREAD.match(line):
            out.append([])
        elif (m := FRAME.match(line)) and out:
            out[-1].append({"file": m.group("file"), "line": int(m.group("line")), "func": m.group("func")})
    return out


def main_thread(stacks: list[list[dict]]) -> list[dict]:
    """The main thread: the one not started by threading (whose outermost frame is not
    threading's _bootstrap)."""
    for frames in stacks:
        if frames and not (frames[-1]["func"] == "_bootstrap" and frames[-1]["file"].endswith("threading.py")):
            return frames
    return stacks[0] if stacks else []


def place(frames: list[dict]) -> dict:
    """Where a main thread is: the collective it waits in (the innermost frame of
    torch.distributed, torchrun's agent in torch.distributed.elastic aside, else of
    torch.autograd: backward, where DDP's all-reduce waits), the
    innermost frame of the program's own code and the innermost frame, each as "function
    (file name:line)" (the dump itself has the full paths)."""
    def here(f: dict | None) -> str:
        return f"{f['func']} ({os.path.basename(f['file'])}:{f['line']})" if f else "no Python frame"

    waiting = next((f for f in frames if "/torch/distributed/" in f["file"]
                    and "/torch/distributed/elastic/" not in f["file"]), None)
    if waiting is None:
        waiting = next((f for f in frames if "/torch/autograd/" in f["file"]), None)
        if waiting is not None:
            waiting = {**waiting, "func": "backward"}
    own = next((f for f in frames if not any(s in f["file"] for s in LIBRARY)), frames[0] if frames else None)
    return {"collective": waiting["func"] if waiting else None, "at": here(own), "innermost": here(frames[0] if frames else None)}


def describe(entry: dict, plural: bool = False) -> str:
    """Where a process is, as the rest of a sentence whose subject is its rank(s)."""
    if entry.get("collective"):
        return f"{'wait' if plural else 'waits'} in {entry['collective']}, called from {entry['at']}"
    if entry.get("answered") is False:
        return "did not answer SIGUSR1 (stopped, or stuck in the kernel)"
    if entry.get("at") is None:
        return f"{'have' if plural else 'has'} no Python process armed for stack dumps"
    return f"{'are' if plural else 'is'} outside any collective, in {entry['innermost']}"


# --------------------------------------------------------------------------- logs

class Log:
    """Lines into a process's stderr (/proc/<pid>/fd/2, opened for appending), or, without a
    process or when that cannot be opened, into this program's own stderr: the probe's output,
    which the kubelet shows in the pod's Events when the probe fails. One write per line (a
    pipe keeps each write under PIPE_BUF whole)."""

    def __init__(self, pid: int | None, until: float):
        self.until, self.fd = until, None
        if pid:
            try:
                self.fd = os.open(f"/proc/{pid}/fd/2", os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
            except OSError:
                self.fd = None

    def line(self, text: str) -> None:
        data = (text.rstrip("\n") + "\n").encode(errors="replace")[:4000]
        if self.fd is None:
            sys.stderr.write(data.decode(errors="replace"))
            return
        while True:
            try:
                os.write(self.fd, data)
                return
            except BlockingIOError:  # the log pipe is full: wait for the reader, not past the deadline
                if time.monotonic() >= self.until:
                    return
                time.sleep(0.01)
            except OSError:
                return

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


# --------------------------------------------------------------------------- state

def write_json(path: Path, data: dict) -> None:
    """Write atomically (another pod may read it at any time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def live_alarms(shared: Path, window: float, now: float) -> dict[int, str]:
    """The alarms on the shared volume touched within `window` seconds: pod rank -> episode."""
    alarms = {}
    for path in shared.glob("alarm-*"):
        try:
            rank = int(path.name.split("-", 1)[1])
            if now - path.stat().st_mtime <= window:
                alarms[rank] = path.read_text().strip()
        except (OSError, ValueError):
            continue
    return {r: e for r, e in alarms.items() if re.fullmatch(r"[0-9]+-[0-9]+", e)}


def episode_of(args, me: dict, beat: dict | None, current: str | None, now: float) -> tuple[str | None, set[str]]:
    """The episode this run belongs to, and every live one. With a shared volume: the episode
    this pod is already in while any alarm of it is live, else the oldest live one, else (for a
    stalled pod) a new one named <unix time>-<pod rank>; two pods that stall at the same moment
    may start two, which the culprit then reads together. Without a shared volume: this pod's
    stall, named after its last heartbeat."""
    if args.shared_dir is None:
        return (None if beat is None else f"{int(beat['beat'])}-{me['pod_rank']}"), set()
    live = set(live_alarms(args.shared_dir, window=2 * args.period_seconds + args.deadline_seconds + 1,
                           now=now).values())
    if current in live:
        return current, live
    if live:
        return min(live, key=lambda e: (int(e.split("-")[0]), e)), live
    if args.trigger == "peer":
        return None, live
    return f"{int(now)}-{me['pod_rank']}", live


# --------------------------------------------------------------------------- the culprit

def verdict(reports: list[dict], pods: int) -> str:
    """One line: which rank stopped first and at which step, and where the others are. The
    culprit is a rank outside any collective (or one that did not answer the signal) while
    others wait in one (the lowest step, then the oldest heartbeat, then the lowest rank among
    several); when the stacks set no rank apart, the rank with the lowest step, then the oldest
    heartbeat."""
    entries = []
    for r in reports:
        procs = [p for p in r["processes"] if p.get("rank") is not None] or \
                [{"rank": None, "collective": None, "at": None, "innermost": None}]
        for p in procs:
            entries.append({**p, "rank": p["rank"] if p["rank"] is not None else r["pod_rank"], "pod": r["pod"],
                            "step": r.get("step"), "beat": r.get("beat") or 0.0})
    outside = [e for e in entries if not e["collective"]]
    apart = bool(outside) and len(outside) < len(entries)
    first = min(outside if apart else entries,
                key=lambda e: (e["step"] if e["step"] is not None else float("inf"), e["beat"], e["rank"]))
    step = first["step"] if first["step"] is not None else "?"
    text = f"{PREFIX} culprit: rank {first['rank']} (pod {first['pod']}) stopped first, at step {step}: it {describe(first)}"
    if not apart and len(entries) > 1:
        text += " (told by the heartbeats: the stacks set no rank apart)"
    groups: dict[str, list[dict]] = {}
    for e in entries:
        if e is not first:
            groups.setdefault(describe(e), []).append(e)
    for group in sorted(groups.values(), key=lambda g: min(e["rank"] for e in g)):
        ranks = sorted(e["rank"] for e in group)
        text += (f"; {'ranks' if len(ranks) > 1 else 'rank'} {', '.join(map(str, ranks))} "
                 f"{describe(group[0], plural=len(ranks) > 1)}")
    missing = sorted(set(range(pods)) - {r["pod_rank"] for r in reports})
    if missing:
        text += f"; no report from pod rank{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))}"
    return text


# --------------------------------------------------------------------------- main

def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="autopsy.py", description=__doc__.splitlines()[0])
    p.add_argument("--trigger", choices=("failing", "stalled", "peer"), required=True)
    p.add_argument("--dir", type=Path, required=True, help="the autopsy folder (stacks/, state/)")
    p.add_argument("--shared-dir", type=Path, default=None, help="a folder every pod of the release sees")
    p.add_argument("--period-seconds", type=float, required=True)
    p.add_argument("--failure-threshold", type=int, required=True)
    p.add_argument("--deadline-seconds", type=float, required=True)
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> str:
    """One autopsy run; returns the summary for the probe's output."""
    until = time.monotonic() + max(0.5, args.deadline_seconds - 1.0)  # a second for starting python
    now = time.time()
    me, beat = pod_identity(), heartbeat()
    if args.trigger == "peer" and beat is None:
        return ""  # not training in this attempt: nothing of this pod is in the stall
    state_dir = args.dir / "state"
    state = read_json(state_dir / "current.json") or {}
    episode, live = episode_of(args, me, beat, state.get("episode"), now)
    if episode is None:
        return ""
    if state.get("episode") != episode:
        state = {"episode": episode, "dumped": False, "culprit": "", "failing_runs": 0}
    if args.shared_dir is not None and args.trigger != "peer":
        write_text_atomic(args.shared_dir / f"alarm-{me['pod_rank']}", episode + "\n")
    if args.trigger == "failing":
        state["failing_runs"] += 1
    summary = []
    age = int(now) - int(beat["beat"]) if beat else None
    if not state["dumped"]:
        report = autopsy(args, me, beat, age, until)
        report["episode"] = episode
        write_json(state_dir / "report.json", report)
        if args.shared_dir is not None:
            write_json(args.shared_dir / "episodes" / episode / f"pod-{me['pod_rank']}.json", report)
            prune(args.shared_dir / "episodes")
        state["dumped"] = True
        summary.append(f"stacks of {len(report['processes'])} process(es) written to the log")
    if not state["culprit"]:
        reports = collect(args, state_dir, {episode} | live)
        complete = {r["pod_rank"] for r in reports} >= set(range(me["pods"]))
        last_chance = args.trigger == "failing" and state["failing_runs"] >= args.failure_threshold
        if reports and (complete or last_chance):
            state["culprit"] = verdict(reports, me["pods"])
            processes = armed_processes(args.dir / "stacks")
            log = Log(processes[0].pid if processes else None, until)
            log.line(state["culprit"])
            log.close()
    write_json(state_dir / "current.json", state)
    if state["culprit"]:
        summary.append(state["culprit"][len(PREFIX) + 1:])
    return "; ".join(summary)


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def autopsy(args, me: dict, beat: dict | None, age: float | None, until: float) -> dict:
    """Dump every armed process of this pod into its log; return this pod's report."""
    processes = armed_processes(args.dir / "stacks")
    dump(processes, until - 0.2)
    why = {"failing": "heartbeat stale", "stalled": "heartbeat stale", "peer": "another rank's heartbeat is stale"}
    step = beat["step"] if beat and beat["step"] is not None else "?"
    stale = f" for {age:.0f} s" if age is not None and args.trigger != "peer" else ""
    entries = []
    for p in processes:
        log = Log(p.pid, until)
        log.line(f"{PREFIX} {p.label()} (pid {p.pid}, pod {me['pod']}): {why[args.trigger]}{stale}, last step {step};"
                 f" stacks of all its threads follow ({p.argv})")
        for line in p.text.splitlines():
            if line.strip():
                log.line(f"{PREFIX} {p.label()} | {line}")
        where = place(main_thread(threads(p.text)))
        entry = {"pid": p.pid, "rank": p.rank, "argv": p.argv, **where}
        if not p.text.strip():
            entry.update(at=None, innermost=None, answered=False)
        subject = "" if entry.get("answered") is False else " its main thread"
        log.line(f"{PREFIX} {p.label()}:{subject} {describe(entry)}")
        log.close()
        entries.append(entry)
    if not processes:
        log = Log(None, until)
        log.line(f"{PREFIX} pod {me['pod']}: {why[args.trigger]}{stale}, last step {step}; no Python process is "
                 "armed for stack dumps (the command is not python, or runs with -E or -I)")
        log.close()
    return {"pod_rank": me["pod_rank"], "pod": me["pod"], "pods": me["pods"], "trigger": args.trigger,
            "step": beat["step"] if beat else None, "beat": beat["beat"] if beat else None,
            "age": age, "time": time.time(), "processes": entries}


def collect(args, state_dir: Path, episodes: set[str]) -> list[dict]:
    """Every pod's report of these episodes, the newest of each pod (this pod's own only, when
    there is no shared volume)."""
    if args.shared_dir is None:
        own = read_json(state_dir / "report.json")
        return [own] if own and own.get("episode") in episodes else []
    newest: dict[int, dict] = {}
    for episode in episodes:
        for path in (args.shared_dir / "episodes" / episode).glob("pod-*.json"):
            r = read_json(path)
            if r and (r["pod_rank"] not in newest or r["time"] > newest[r["pod_rank"]]["time"]):
                newest[r["pod_rank"]] = r
    return [newest[k] for k in sorted(newest)]


def prune(episodes: Path) -> None:
    """Keep the newest KEEP_EPISODES episode folders on the shared volume."""
    def started(path: Path) -> int:
        head = path.name.split("-", 1)[0]
        return int(head) if head.isdigit() else 0

    folders = sorted((p for p in episodes.iterdir() if p.is_dir()), key=started)
    for old in folders[:-KEEP_EPISODES]:
        for f in old.iterdir():
            f.unlink(missing_ok=True)
        try:
            old.rmdir()
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    summary = run(args)
    if summary:
        print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
