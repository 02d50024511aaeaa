#!/usr/bin/env python3
"""Soak the 2-rank gloo DDP scripts for the teardown race (docs/fault-tolerance.md, "Success, then
an abort at exit"): run a script under `torchrun --standalone --nproc-per-node=2` many times,
several at once (they are the CPU load; --busy adds spinning processes), and count the runs
where every rank reported success and the run still failed.

    hack/soak_teardown.py [--runs 200] [--jobs 4] [--busy 0] [--example] [--script FILE]

Default script: the pytorch image's check (hack/images/ddp_check.py; success line "DDP backward
ok"). --example runs the chart's example (files/examples/ddp_train.py --epochs 1 --steps 2
--no-checkpoint; success line `DDP_RESULT {... "ok": true ...}`). Each run is one of:
  ok                  every rank reported success and torchrun exited 0
  abort-after-success every rank reported success, torchrun did not exit 0 (the race)
  failed              a rank did not report success
The output of every run that is not ok is kept under --out (one folder per run, core files
included when the shell allows them). Exits 1 when any run was not ok. Not part of `make test`:
`make soak-teardown` runs it (SOAK_ARGS=...).

--node runs the example on the real node instead (--busy spins beside it too; hack/cluster/node-up.sh;
the control plane --cluster (default "soak") of this clone, started if it is not up, left up:
`hack/cluster/down.sh soak`): the chart
rendered in standalone mode with launcher=torchrun and 2 processes per pod, its Job turned into
one Indexed Job of --runs completions, --jobs pods at a time, each index tried once
(backoffLimitPerIndex 0). Each pod is a run, judged from its log and its container's exit code.
--script replaces the example in the chart's ConfigMap (to measure an older version).
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "hack" / "images" / "ddp_check.py"
EXAMPLE = ROOT / "files" / "examples" / "ddp_train.py"
CHECK_OK = re.compile(r"^rank \d+/2: .*DDP backward ok$", re.M)
EXAMPLE_OK = re.compile(r'^\[rank \d+/2\] DDP_RESULT .*"ok": true', re.M)
ABORT = re.compile(r"SIGABRT|Signal 6 |exitcode\s*:\s*-6|terminate called", re.M)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=200, help="runs in all (default 200)")
    p.add_argument("--jobs", type=int, default=4, help="runs at the same time (default 4)")
    p.add_argument("--busy", type=int, default=0, help="extra busy-looping processes while it runs (default 0)")
    p.add_argument("--example", action="store_true", help="run files/examples/ddp_train.py instead of the image check")
    p.add_argument("--script", type=Path, help="run this script instead (success line as for the image check)")
    p.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"), help="python with torch (default .venv)")
    p.add_argument("--out", type=Path, default=ROOT / ".cache" / "soak-teardown",
                   help="where the runs that are not ok are kept (default .cache/soak-teardown)")
    p.add_argument("--timeout", type=float, default=600, help="seconds one run may take (default 600)")
    p.add_argument("--node", action="store_true", help="run the example in pods on the real node (see above)")
    p.add_argument("--cluster", default="soak", help="--node: the control plane's name (default soak)")
    p.add_argument("--minutes", type=float, default=0,
                   help="start no run after this many minutes, then report the runs done (default 0: no limit)")
    return p.parse_args(argv)


def command(args: argparse.Namespace) -> tuple[list[str], re.Pattern]:
    launch = [args.python, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    if args.example:
        return [*launch, str(EXAMPLE), "--epochs", "1", "--steps", "2", "--no-checkpoint"], EXAMPLE_OK
    return [*launch, str(args.script or CHECK)], CHECK_OK


def classify(rc: int, output: str, ok_line: re.Pattern) -> str:
    if len(ok_line.findall(output)) < 2:
        return "failed"
    return "ok" if rc == 0 else "abort-after-success"


def report(header: str, counts: dict[str, int], codes: dict[str, int]) -> bool:
    """Print the counts of each outcome and of each exit code; true when every run was ok."""
    print(f"{header}: ok {counts['ok']}, abort-after-success {counts['abort-after-success']}, "
          f"failed {counts['failed']}")
    for key, n in sorted(codes.items()):
        print(f"  {n:5d}  {key}")
    return counts["ok"] == sum(counts.values())


def allow_cores() -> None:
    """Core files of the runs (written into the run's folder with the default core_pattern)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def spin() -> subprocess.Popen:
    """A process that only burns CPU, until it is killed."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


@contextlib.contextmanager
def spinning(n: int):
    """N processes that only burn CPU while the block runs."""
    spinners = [spin() for _ in range(n)]
    try:
        yield
    finally:
        for s in spinners:
            s.kill()
            s.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.node:
        with spinning(args.busy):
            return node_soak(args)
    cmd, ok_line = command(args)
    run_root = args.out / time.strftime("%Y%m%d-%H%M%S")
    run_root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    env.pop("SUCCESS_FILE", None)
    counts: collections.Counter[str] = collections.Counter()
    codes: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    walls: list[float] = []
    start = time.monotonic()
    print(f"soak: {args.runs} runs, {args.jobs} at a time, {args.busy} busy loops: {' '.join(cmd[1:])}", flush=True)

    def one(i: int) -> None:
        if args.minutes and time.monotonic() - start > args.minutes * 60:
            return
        d = run_root / f"run-{i:04d}"
        d.mkdir()
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=d, env=env, preexec_fn=allow_cores, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, errors="replace", timeout=args.timeout)
            rc, output = proc.returncode, proc.stdout
        except subprocess.TimeoutExpired as err:
            out = err.stdout or b""
            rc, output = 124, out.decode(errors="replace") if isinstance(out, bytes) else out
        wall = time.monotonic() - started
        kind = classify(rc, output, ok_line)
        (d / "output").write_text(output)
        with lock:
            counts[kind] += 1
            codes[f"{kind} rc={rc}{' (SIGABRT in the log)' if ABORT.search(output) else ''}"] += 1
            walls.append(wall)
            done = sum(counts.values())
            if kind != "ok":
                print(f"run {i}: {kind}, torchrun exited {rc} after {wall:.1f}s; kept in {d}", flush=True)
            elif done % 25 == 0:
                print(f"{done}/{args.runs} done: {dict(counts)}", flush=True)
        if kind == "ok":
            shutil.rmtree(d, ignore_errors=True)

    with spinning(args.busy), ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(one, range(args.runs)))
    total = time.monotonic() - start
    walls.sort()
    runs = sum(counts.values())
    if not runs:
        print("soak: no run finished")
        return 1
    if report(f"soak: {runs} runs in {total:.0f}s (run wall time median {walls[len(walls) // 2]:.1f}s, "
              f"max {walls[-1]:.1f}s)", counts, codes):
        shutil.rmtree(run_root, ignore_errors=True)
        return 0
    print(f"soak: the runs that were not ok are in {run_root}")
    return 1


def node_soak(args: argparse.Namespace) -> int:
    """--node: one Indexed Job of --runs pods on the real node, each the example under torchrun."""
    import yaml  # the venv's (tests' dependencies)
    sys.path.insert(0, str(ROOT / "tests"))
    from cluster.controlplane import ControlPlane
    from harness.images import chart_image_values

    t0 = time.monotonic()
    cp = ControlPlane(name=args.cluster, nodes=0, real_node=True).up(timeout=1200)
    print(f"soak: control plane and real node up in {time.monotonic() - t0:.0f}s", flush=True)
    ns = cp.create_namespace(f"soak-{time.strftime('%m%d-%H%M%S')}")
    sets = [*chart_image_values(), "job.enabled=true", "examples.enabled=true", "launcher=torchrun",
            "torchrun.nprocPerNode=2", "threadsPerProcess=1", "persistence.enabled=false",
            "entrypoint.args=--epochs 1 --steps 2 --no-checkpoint"]
    rendered = cp.helm("template", "soak", str(ROOT), "-n", ns, *[a for s in sets for a in ("--set", s)]).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d and "helm.sh/hook" not in d["metadata"].get("annotations", {})]
    for d in docs:
        if d["kind"] == "ConfigMap" and args.script:
            d["data"]["ddp_train.py"] = args.script.read_text()
        if d["kind"] == "Job":
            job = d["metadata"]["name"]
            spec = d["spec"]
            spec.pop("backoffLimit", None)
            spec.update(completionMode="Indexed", completions=args.runs, parallelism=args.jobs,
                        backoffLimitPerIndex=0, maxFailedIndexes=args.runs)
    cp.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all(docs))
    print(f"soak: {args.runs} pods, {args.jobs} at a time, {args.busy} busy loops, in namespace {ns} (job {job})",
          flush=True)
    start = time.monotonic()

    def finished():
        st = cp.get("job", job, "-n", ns).get("status", {})
        done = [c for c in st.get("conditions", []) if c["type"] in ("Complete", "Failed") and c["status"] == "True"]
        return st if done else None

    if args.minutes:
        # Stop at the deadline: suspend the Job (its running pods are deleted) and judge the
        # pods that finished.
        deadline = start + args.minutes * 60
        while not (status := finished()) and time.monotonic() < deadline:
            time.sleep(10)
        if not status:
            cp.kubectl("patch", "job", job, "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}')
            print(f"soak: stopped after {args.minutes:g} minutes (job suspended)", flush=True)
            status = cp.get("job", job, "-n", ns).get("status", {})
    else:
        status = cp.wait_for(f"job {ns}/{job} to finish", finished, timeout=args.timeout * args.runs, interval=10)
    total = time.monotonic() - start
    run_root = args.out / f"node-{ns}"
    run_root.mkdir(parents=True, exist_ok=True)
    counts: collections.Counter[str] = collections.Counter()
    codes: collections.Counter[str] = collections.Counter()
    for pod in cp.pods(ns, f"batch.kubernetes.io/job-name={job}"):
        name = pod["metadata"]["name"]
        state = (pod["status"].get("containerStatuses") or [{}])[0].get("state", {}).get("terminated")
        if not state or pod["metadata"].get("deletionTimestamp"):
            continue   # did not finish (the Job was suspended)
        rc = state["exitCode"]
        log = cp.kubectl("logs", "-n", ns, name, "-c", "pytorch", check=False).stdout
        kind = classify(rc, log, EXAMPLE_OK)
        counts[kind] += 1
        codes[f"{kind} exit code {rc}{' (SIGABRT in the log)' if ABORT.search(log) else ''}"] += 1
        if kind != "ok":
            (run_root / f"{name}.log").write_text(log)
            print(f"{name}: {kind}, exit code {rc}; log in {run_root}", flush=True)
    runs = sum(counts.values())
    if report(f"soak (real node): {runs} pods in {total:.0f}s, job succeeded {status.get('succeeded', 0)} "
              f"failed {status.get('failed', 0)}", counts, codes):
        cp.delete_namespace(ns)
        shutil.rmtree(run_root, ignore_errors=True)
        return 0
    print(f"soak: namespace {ns} kept")
    return 1


if __name__ == "__main__":
    sys.exit(main())
