#!/usr/bin/env python3
"""A small DistributedDataParallel (DDP) training run on synthetic data.

It is the chart's example workload (`examples.enabled=true`) and what the runtime tests run:
every rank joins the process group, checks an all_reduce, trains a tiny regression model for
a few steps, checks that the replicas stayed in sync, and rank 0 saves a checkpoint.

Rank and world size come the standard way, from the environment (`init_method="env://"`):
RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, as the chart sets them for a plain
`python ddp_train.py` pod, or as torchrun sets them for its workers (with LOCAL_RANK too).
Run with none of them set, it trains alone (world size 1) on 127.0.0.1.

Backend: nccl when CUDA is available (one GPU per process, chosen by LOCAL_RANK), else gloo.
Checkpoint: rank 0 writes ddp_train.pt under $CHECKPOINT_DIR (default /data) when it can.

Fault tolerance (the chart's contract, README "Fault tolerance"; docs/fault-tolerance.md):
- PG_TIMEOUT_SECONDS: the process-group timeout (rendezvous and every collective).
- HEARTBEAT_FILE: rewritten after every step with the step's number (the liveness probe's "still
  making progress"; the chart's stack autopsy names the step);
  READY_FILE: created once this rank has joined the process group, removed on exit.
- CHECKPOINT_EVERY=K: every rank saves its shard of a torch.distributed.checkpoint under
  $CHECKPOINT_DIR/ddp_train/step-<N> every K steps and when any rank gets SIGTERM; a new
  process resumes from the newest complete one, so a restart redoes at most K steps.
  Every rank must see the same $CHECKPOINT_DIR (the chart's shared checkpoint claim).
- --fault-plan injects failures for tests: "kill:RANK@STEP,hang:RANK@STEP,...". Entry i fires
  once, on the process with that RANK when it finishes that global step, after entry i-1 has
  fired (markers under $CHECKPOINT_DIR/ddp_train/faults): kill = SIGKILL itself, as the OOM
  killer would; hang = stop making progress (and heartbeats) without exiting.

Metrics: with METRICS_PORT set (the chart's `metrics.enabled`), every rank serves the Prometheus
text format on 0.0.0.0:METRICS_PORT at METRICS_PATH (default /metrics), from a daemon thread:
ddp_train_steps_total (steps done), ddp_train_last_loss (the last step's loss on this rank) and
ddp_train_last_step_timestamp_seconds (when the last step ended), each labelled with the rank.

Every log line starts with "[rank R/N]". The last line of each rank is machine-readable:
    DDP_RESULT {"rank": 0, "world_size": 2, "allreduce_sum": 3.0, ..., "ok": true}
The exit code is 0 when every check passed, 1 otherwise. On 0 the rank first writes
$SUCCESS_FILE when it is set (the chart's supervisor sets it), and it leaves with os._exit,
skipping the interpreter's finalization, where torch's gloo teardown can abort a rank that has
already succeeded (docs/fault-tolerance.md, "Success, then an abort at exit").
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NoReturn

# torch warns at import when numpy is missing; this script does not use numpy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict  # noqa: E402
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

RESULT_TAG = "DDP_RESULT"
CHECKPOINT_NAME = "ddp_train.pt"
RUN_DIR = "ddp_train"          # under $CHECKPOINT_DIR: step-<N>/ checkpoints and faults/
COMPLETE = "COMPLETE"          # written into step-<N>/ once every rank's shard is saved
KEEP_CHECKPOINTS = 2
EXIT_PEER_STOPPED = 75         # another rank got SIGTERM; this one saved and exits to be restarted
EXIT_TERMINATED = 128 + signal.SIGTERM
NAME_BYTES = 253  # the longest DNS name, so every pod name fits


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2, help="epochs to train (default 2)")
    p.add_argument("--steps", type=int, default=5, help="optimizer steps per epoch (default 5)")
    p.add_argument("--batch-size", type=int, default=32, help="samples per rank and step (default 32)")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (default 0.05)")
    p.add_argument("--step-seconds", type=float, default=0.0,
                   help="sleep this long after each step, to pace a demo (default 0)")
    p.add_argument("--hidden", type=int, default=32, help="hidden units of the model (default 32)")
    p.add_argument("--seed", type=int, default=1234, help="base random seed (default 1234)")
    p.add_argument("--backend", choices=("auto", "gloo", "nccl"), default="auto",
                   help="process group backend; auto = nccl with CUDA, gloo without (default auto)")
    p.add_argument("--timeout", type=float, default=float(os.environ.get("PG_TIMEOUT_SECONDS") or 300),
                   help="collective timeout in seconds: how long a collective waits for a peer "
                        "(default $PG_TIMEOUT_SECONDS, else 300)")
    p.add_argument("--rendezvous-timeout", type=float, default=900.0,
                   help="how long to wait for every rank to arrive at start-up (default 900; "
                        "never less than --timeout)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="where rank 0 saves the checkpoint (default $CHECKPOINT_DIR, else /data)")
    p.add_argument("--no-checkpoint", action="store_true", help="do not save a checkpoint")
    p.add_argument("--checkpoint-every", type=int, default=int(os.environ.get("CHECKPOINT_EVERY") or 0),
                   help="save a distributed checkpoint every K steps and resume from it "
                        "(default $CHECKPOINT_EVERY, else 0: never)")
    p.add_argument("--fault-plan", default="", type=parse_fault_plan,
                   help='inject failures, for tests: "kill:RANK@STEP,hang:RANK@STEP,..."')
    return p.parse_args(argv)


def parse_fault_plan(text: str) -> list[tuple[str, int, int]]:
    """"kill:1@7,hang:0@12" -> [("kill", 1, 7), ("hang", 0, 12)]."""
    plan = []
    for item in filter(None, (x.strip() for x in text.split(","))):
        m = re.fullmatch(r"(kill|hang):(\d+)@(\d+)", item)
        if not m:
            raise argparse.ArgumentTypeError(f"bad fault {item!r}: want kill:RANK@STEP or hang:RANK@STEP")
        plan.append((m.group(1), int(m.group(2)), int(m.group(3))))
    return plan


class Log:
    """Prints lines prefixed with the rank. Each line goes out in one write(): processes that
    share a stdout (torchrun's workers) cannot interleave inside a line, as print() can when
    Python is unbuffered (it writes the text and the newline separately)."""

    def __init__(self) -> None:
        self.prefix = f"[rank {os.environ.get('RANK', '?')}/{os.environ.get('WORLD_SIZE', '?')}]"

    def __call__(self, msg: str) -> None:
        sys.stdout.write(f"{self.prefix} {msg}\n")
        sys.stdout.flush()


def default_env() -> None:
    """With no distributed environment at all, run as a world of one on loopback."""
    if not any(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR")):
        os.environ.update(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29500")


def pick_device(backend: str, log: Log) -> tuple[str, torch.device, int]:
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        if not torch.cuda.is_available():
            raise SystemExit("nccl needs CUDA, and torch.cuda.is_available() is False")
        if "LOCAL_RANK" not in os.environ:
            local_rank = int(os.environ["RANK"]) % torch.cuda.device_count()
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    log(f"backend={backend} device={device} local_rank={local_rank} torch={torch.__version__}")
    return backend, device, local_rank


def all_gather_members(rank: int, local_rank: int, pod: str, device: torch.device) -> list[dict]:
    """Every rank's (rank, local rank, pod name), gathered on every rank."""
    name = pod.encode()[:NAME_BYTES].ljust(NAME_BYTES, b"\0")
    mine = torch.tensor([rank, local_rank, *name], dtype=torch.int64, device=device)
    gathered = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, mine)
    members = []
    for t in gathered:
        values = t.tolist()
        members.append({"rank": values[0], "local_rank": values[1],
                        "pod": bytes(values[2:]).rstrip(b"\0").decode(errors="replace")})
    return members


def save_checkpoint(directory: str, state: dict, log: Log) -> str | None:
    """Save atomically under `directory`; return the path, or None when it is not writable."""
    try:
        os.makedirs(directory, exist_ok=True)
        if not os.access(directory, os.W_OK):
            raise PermissionError(f"{directory} is not writable")
        path = os.path.join(directory, CHECKPOINT_NAME)
        tmp = f"{path}.tmp.{os.getpid()}"
        torch.save(state, tmp)
        os.replace(tmp, path)
    except OSError as err:
        log(f"checkpoint skipped: {err}")
        return None
    log(f"checkpoint saved to {path} ({os.path.getsize(path)} bytes)")
    return path


class Beacon:
    """The probe files of the chart's contract: HEARTBEAT_FILE (touched after each step) and
    READY_FILE (exists while this rank is in the process group). Unset names do nothing."""

    def __init__(self) -> None:
        self.heartbeat = os.environ.get("HEARTBEAT_FILE") or None
        self.ready = os.environ.get("READY_FILE") or None
        for path in filter(None, (self.heartbeat, self.ready)):
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        if self.heartbeat and os.path.exists(self.heartbeat):
            os.remove(self.heartbeat)  # a previous process's beat says nothing about this one

    def beat(self, step: int) -> None:
        """A fresh HEARTBEAT_FILE that holds the last step done (the stack autopsy reports it);
        written aside and renamed, so a probe never reads half of it."""
        if self.heartbeat:
            tmp = f"{self.heartbeat}.{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(f"{step}\n")
            os.replace(tmp, self.heartbeat)

    def joined(self) -> None:
        if self.ready:
            open(self.ready, "w").close()

    def left(self) -> None:
        if self.ready and os.path.exists(self.ready):
            os.remove(self.ready)


class Checkpoints:
    """Distributed checkpoints under <dir>/ddp_train/step-<N>: every rank writes its shard with
    torch.distributed.checkpoint; rank 0 marks the folder complete after a barrier and keeps the
    newest two."""

    def __init__(self, directory: str, every: int, log: Log) -> None:
        self.root = os.path.join(directory, RUN_DIR)
        self.every, self.log = every, log

    def latest(self) -> int:
        """The newest complete checkpoint's step, the same on every rank (rank 0 looks)."""
        step = 0
        if dist.get_rank() == 0 and os.path.isdir(self.root):
            done = [int(m.group(1)) for name in os.listdir(self.root)
                    if (m := re.fullmatch(r"step-(\d+)", name))
                    and os.path.exists(os.path.join(self.root, name, COMPLETE))]
            step = max(done, default=0)
        t = torch.tensor([step], dtype=torch.int64)
        dist.broadcast(t, src=0)
        return int(t.item())

    def load(self, state: dict) -> int:
        import torch.distributed.checkpoint as dcp
        step = self.latest()
        if step:
            t0 = time.time()
            dcp.load(state, checkpoint_id=os.path.join(self.root, f"step-{step}"))
            self.log(f"resumed from checkpoint step {step} in {time.time() - t0:.2f}s ({self.root})")
        return step

    def save(self, state: dict, step: int) -> None:
        import torch.distributed.checkpoint as dcp
        t0 = time.time()
        path = os.path.join(self.root, f"step-{step}")
        dcp.save(state, checkpoint_id=path)
        dist.barrier()
        if dist.get_rank() == 0:
            open(os.path.join(path, COMPLETE), "w").close()
            done = sorted(int(n[5:]) for n in os.listdir(self.root) if re.fullmatch(r"step-\d+", n))
            for old in done[:-KEEP_CHECKPOINTS]:
                shutil.rmtree(os.path.join(self.root, f"step-{old}"), ignore_errors=True)
        self.log(f"checkpoint step {step} saved in {time.time() - t0:.2f}s ({path})")


class Faults:
    """--fault-plan: entry i fires once, on its rank at its step, after entry i-1 fired."""

    def __init__(self, plan: list[tuple[str, int, int]], directory: str) -> None:
        self.plan, self.dir = plan, os.path.join(directory, RUN_DIR, "faults")

    def fired(self) -> int:
        return sum(os.path.exists(os.path.join(self.dir, str(i))) for i in range(len(self.plan)))

    def maybe_fire(self, rank: int, step: int, log: Log) -> None:
        i = self.fired()
        if i >= len(self.plan) or self.plan[i][1:] != (rank, step):
            return
        os.makedirs(self.dir, exist_ok=True)
        try:
            open(os.path.join(self.dir, str(i)), "x").close()
        except FileExistsError:
            return
        action = self.plan[i][0]
        log(f"fault {i}: {action} at step {step} (pid {os.getpid()}, at {time.time():.3f})")
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        while True:  # hang: alive, silent, no heartbeat
            time.sleep(3600)


class Metrics:
    """Training metrics in the Prometheus text format (version 0.0.4), served on METRICS_PORT at
    METRICS_PATH by a daemon thread; without METRICS_PORT, update() only records."""

    def __init__(self, rank: int) -> None:
        self.rank, self.steps, self.loss, self.stamp = rank, 0, float("nan"), 0.0
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def update(self, steps: int, loss: float) -> None:
        with self.lock:
            self.steps, self.loss, self.stamp = steps, loss, time.time()

    def text(self) -> str:
        with self.lock:
            steps, loss, stamp = self.steps, self.loss, self.stamp
        label = f'{{rank="{self.rank}"}}'
        return (
            "# HELP ddp_train_steps_total Optimizer steps done by this rank.\n"
            "# TYPE ddp_train_steps_total counter\n"
            f"ddp_train_steps_total{label} {steps}\n"
            "# HELP ddp_train_last_loss Loss of this rank's last step.\n"
            "# TYPE ddp_train_last_loss gauge\n"
            f"ddp_train_last_loss{label} {float(loss)!r}\n"
            "# HELP ddp_train_last_step_timestamp_seconds Unix time the last step ended (0: none yet).\n"
            "# TYPE ddp_train_last_step_timestamp_seconds gauge\n"
            f"ddp_train_last_step_timestamp_seconds{label} {stamp!r}\n")

    def serve(self, port: int, path: str, log: Log) -> None:
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                if self.path.split("?", 1)[0] != path:
                    self.send_error(404)
                    return
                body = metrics.text().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:  # one line per scrape would drown the training log
                pass

        self.server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True).start()
        log(f"serving metrics on :{self.server.server_address[1]}{path}")


def start_metrics(rank: int, log: Log) -> Metrics:
    """Metrics for this rank, served when METRICS_PORT is set."""
    metrics = Metrics(rank)
    port = os.environ.get("METRICS_PORT")
    if port:
        metrics.serve(int(port), os.environ.get("METRICS_PATH") or "/metrics", log)
    return metrics


def batch(args: argparse.Namespace, rank: int, step: int, w_true: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The samples of (rank, step): the same ones whether or not the run was restarted."""
    gen = torch.Generator().manual_seed(args.seed * 1_000_003 + rank * 10_007 + step)
    x = torch.randn(args.batch_size, 16, generator=gen)
    return x, x @ w_true + 0.01 * torch.randn(args.batch_size, 1, generator=gen)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    default_env()
    log = Log()
    beacon = Beacon()
    stop = {"signal": 0}
    attempt = os.environ.get("GROUP_RESTART_COUNT") or os.environ.get("TORCHELASTIC_RESTART_COUNT") or "0"
    env = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                                          "POD_NAME", "GROUP_RANK", "LOCAL_WORLD_SIZE")}
    log("starting on %s (attempt %s): %s" % (socket.gethostname(), attempt,
                                              " ".join(f"{k}={v}" for k, v in env.items() if v)))
    backend, device, local_rank = pick_device(args.backend, log)

    t_init_start = time.time()
    init_process_group(backend, args)
    t_init_end = time.time()
    rank, world_size = dist.get_rank(), dist.get_world_size()
    log.prefix = f"[rank {rank}/{world_size}]"
    log(f"joined the process group in {t_init_end - t_init_start:.3f}s "
        f"(master {os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}, timeout {args.timeout:g}s, "
        f"at {t_init_end:.3f})")
    beacon.joined()
    metrics = start_metrics(rank, log)
    try:
        return train(args, log, beacon, stop, rank, world_size, backend, device, local_rank,
                     t_init_start, t_init_end, attempt, metrics)
    except Exception as err:  # a dead peer, a timeout: say when, for the recovery figures
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # nothing left to save: a SIGTERM now ends it
        log(f"failed at {time.time():.3f}: {type(err).__name__}")
        raise
    finally:
        beacon.left()


def true_weights(args: argparse.Namespace) -> torch.Tensor:
    """The w of y = x @ w + noise, the same on every rank."""
    return torch.randn(16, 1, generator=torch.Generator().manual_seed(args.seed))


def init_process_group(backend: str, args: argparse.Namespace) -> None:
    """Join the process group. Collectives give up on a peer after --timeout; the start-up
    wait for every rank (pods scheduled, images pulled, torch imported) may take up to
    --rendezvous-timeout. Under torchrun the agents have already met (c10d rendezvous, in
    rounds); with plain `python` see join_store()."""
    timeout = datetime.timedelta(seconds=args.timeout)
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        dist.init_process_group(backend=backend, init_method="env://", timeout=timeout)
        return
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    store = join_store(rank, world_size, max(args.rendezvous_timeout, args.timeout))
    dist.init_process_group(backend=backend, store=store, rank=rank, world_size=world_size, timeout=timeout)


def join_store(rank: int, world_size: int, seconds: float) -> dist.Store:
    """Meet every rank at rank 0's store (MASTER_ADDR:MASTER_PORT), once per group start.
    Each rank counts itself in; a count above the world size means this store belongs to a
    group that already started (after a restart, its rank 0 may not yet have noticed the
    failure): leave it and try again until the new rank 0 serves a fresh one."""
    deadline = time.time() + seconds
    host, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    while True:
        left = datetime.timedelta(seconds=max(1.0, deadline - time.time()))
        store = dist.TCPStore(host, port, world_size, rank == 0, timeout=left, wait_for_workers=False)
        arrived = store.add("ranks-arrived", 1)
        if arrived <= world_size:
            break
        del store
        if time.time() > deadline:
            raise TimeoutError(f"no fresh store at {host}:{port} within {seconds:g}s")
        time.sleep(1.0)
    if arrived == world_size:
        store.set("ranks-complete", "1")
    store.wait(["ranks-complete"], datetime.timedelta(seconds=max(1.0, deadline - time.time())))
    return dist.PrefixStore("group", store)


def build_model(args: argparse.Namespace) -> nn.Module:
    """The same initial model on every rank (seeded)."""
    torch.manual_seed(args.seed)
    return nn.Sequential(nn.Linear(16, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 1))


def train(args, log, beacon, stop, rank, world_size, backend, device, local_rank,
          t_init_start, t_init_end, attempt, metrics=None) -> int:
    # Sanity check: each rank contributes rank + 1, so the sum is N(N+1)/2.
    probe = torch.tensor([float(rank + 1)], device=device)
    dist.all_reduce(probe, op=dist.ReduceOp.SUM)
    allreduce_sum = probe.item()
    expected = world_size * (world_size + 1) / 2
    log(f"all_reduce sum={allreduce_sum:g} expected={expected:g}")

    # Every rank learns who else is there: ranks must be exactly 0..N-1.
    # (Fixed-size tensors, not all_gather_object, which needs numpy.)
    members = all_gather_members(rank, local_rank, os.environ.get("POD_NAME") or socket.gethostname(), device)
    ranks_unique = sorted(m["rank"] for m in members) == list(range(world_size))
    if rank == 0:
        log("members: " + ", ".join(f"{m['rank']}@{m['pod']}" for m in members))

    # A tiny regression model on synthetic data: y = x @ w + noise, the same w on every rank,
    # different samples per rank and step (as a DistributedSampler would give).
    model = build_model(args).to(device)
    ddp = DDP(model, device_ids=[local_rank] if device.type == "cuda" else None)
    opt = torch.optim.SGD(ddp.parameters(), lr=args.lr)
    loss_fn = nn.MSELoss()
    w_true = true_weights(args)
    directory = args.checkpoint_dir or os.environ.get("CHECKPOINT_DIR") or "/data"
    ckpt = Checkpoints(directory, args.checkpoint_every, log) if args.checkpoint_every > 0 else None
    faults = Faults(args.fault_plan, directory)
    start = 0
    if ckpt:
        def on_term(signum, _frame):  # every rank saves at the next step boundary, then exits
            if stop["signal"]:
                raise SystemExit(EXIT_TERMINATED)  # a second SIGTERM: stop waiting for the boundary
            stop["signal"] = signum
            log(f"got signal {signum}: saving a checkpoint at the next step, then exiting")

        signal.signal(signal.SIGTERM, on_term)
        msd, osd = get_state_dict(model, opt)
        state = {"model": msd, "optimizer": osd}
        start = ckpt.load(state)
        if start:
            set_state_dict(model, opt, model_state_dict=state["model"], optim_state_dict=state["optimizer"])
    total = args.epochs * args.steps
    loss_value = float("nan")
    steps = start
    t_train = time.time()
    beacon.beat(start)
    for step in range(start, total):
        x, y = batch(args, rank, step, w_true)
        x, y = x.to(device), y.to(device)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(ddp(x), y)
        loss.backward()
        opt.step()
        steps = step + 1
        beacon.beat(steps)
        if metrics:
            metrics.update(steps, loss.item())
        if args.step_seconds > 0:
            time.sleep(args.step_seconds)
        faults.maybe_fire(rank, steps, log)
        if steps % args.steps == 0:
            loss_value = loss.detach().clone()
            dist.all_reduce(loss_value, op=dist.ReduceOp.SUM)
            loss_value = loss_value.item() / world_size
            log(f"epoch {steps // args.steps}/{args.epochs} step {steps} mean loss {loss_value:.5f}")
        if ckpt:
            # Did any rank get SIGTERM? Then every rank saves now (the save is collective).
            flag = torch.tensor([stop["signal"]], dtype=torch.int64, device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            if flag.item() or (steps % ckpt.every == 0 and steps < total):
                msd, osd = get_state_dict(model, opt)
                ckpt.save({"model": msd, "optimizer": osd}, steps)
            if flag.item():
                log(f"stopped at step {steps} after a SIGTERM; the next start resumes here")
                del ddp, model, opt
                gc.collect()
                dist.destroy_process_group()
                return EXIT_TERMINATED if stop["signal"] else EXIT_PEER_STOPPED
    train_seconds = time.time() - t_train

    # DDP keeps the replicas identical: the parameter sum must be the same on every rank.
    checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1)
    lo, hi = checksum.clone(), checksum.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    params_in_sync = bool(torch.isclose(lo, hi, rtol=0, atol=1e-9).item())
    log(f"parameters in sync across ranks: {params_in_sync}")

    checkpoint = None
    if rank == 0 and not args.no_checkpoint:
        checkpoint = save_checkpoint(directory, {
            "model": model.state_dict(), "optimizer": opt.state_dict(), "epochs": args.epochs,
            "steps": steps, "world_size": world_size, "loss": loss_value}, log)
    if device.type == "cuda":
        dist.barrier(device_ids=[local_rank])
    else:
        dist.barrier()

    ok = allreduce_sum == expected and ranks_unique and params_in_sync and steps == total
    result = {
        "rank": rank, "world_size": world_size, "local_rank": local_rank, "backend": backend,
        "device": str(device), "pod": os.environ.get("POD_NAME"), "master_addr": os.environ["MASTER_ADDR"],
        "master_port": os.environ["MASTER_PORT"], "allreduce_sum": allreduce_sum,
        "allreduce_expected": expected, "ranks_unique": ranks_unique, "params_in_sync": params_in_sync,
        "steps": steps, "resumed_from": start, "steps_run": steps - start, "attempt": int(attempt),
        "faults_fired": faults.fired(), "checksum": checksum.item(),
        "final_loss": loss_value, "checkpoint": checkpoint,
        "init_seconds": round(t_init_end - t_init_start, 4), "t_init_start": t_init_start,
        "t_init_end": t_init_end, "train_seconds": round(train_seconds, 4),
        "threads": torch.get_num_threads(), "ok": ok,
    }
    # Drop the DDP wrapper (its reducer holds the process group) before the group goes away:
    # tearing them down in the other order at exit can abort a gloo worker
    # ("terminate called without an active exception").
    del ddp, model, opt
    gc.collect()
    dist.destroy_process_group()
    log(f"{RESULT_TAG} {json.dumps(result, sort_keys=True)}")
    return 0 if ok else 1


def leave(rc: int) -> NoReturn:
    """Exit with `rc` once main() has returned (the process group is destroyed). On success
    first write SUCCESS_FILE (the chart's supervisor counts an abort after it as a success).
    Then flush and os._exit: the interpreter's finalization (module teardown, then the C++
    static destructors) is skipped, and with it a race in torch's gloo teardown that can abort
    a rank that has already succeeded (SIGABRT, "terminate called without an active
    exception"; docs/fault-tolerance.md). Nothing is left to clean up: the checkpoint is
    written, the group is gone, and the metrics thread is a daemon."""
    marker = os.environ.get("SUCCESS_FILE")
    if rc == 0 and marker:
        with open(marker, "w") as f:
            f.write(f"{os.getpid()}\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


if __name__ == "__main__":
    leave(main())
