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

Every log line starts with "[rank R/N]". The last line of each rank is machine-readable:
    DDP_RESULT {"rank": 0, "world_size": 2, "allreduce_sum": 3.0, ..., "ok": true}
The exit code is 0 when every check passed, 1 otherwise.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import socket
import sys
import time
import warnings

# torch warns at import when numpy is missing; this script does not use numpy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

RESULT_TAG = "DDP_RESULT"
CHECKPOINT_NAME = "ddp_train.pt"
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
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds to wait for the other ranks at rendezvous (default 300)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="where rank 0 saves the checkpoint (default $CHECKPOINT_DIR, else /data)")
    p.add_argument("--no-checkpoint", action="store_true", help="do not save a checkpoint")
    return p.parse_args(argv)


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    default_env()
    log = Log()
    env = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                                          "POD_NAME", "GROUP_RANK", "LOCAL_WORLD_SIZE")}
    log("starting on %s: %s" % (socket.gethostname(), " ".join(f"{k}={v}" for k, v in env.items() if v)))
    backend, device, local_rank = pick_device(args.backend, log)

    t_init_start = time.time()
    dist.init_process_group(backend=backend, init_method="env://",
                            timeout=datetime.timedelta(seconds=args.timeout))
    t_init_end = time.time()
    rank, world_size = dist.get_rank(), dist.get_world_size()
    log.prefix = f"[rank {rank}/{world_size}]"
    log(f"joined the process group in {t_init_end - t_init_start:.3f}s "
        f"(master {os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']})")

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
    # different samples per rank (as a DistributedSampler would give).
    torch.manual_seed(args.seed)
    model = nn.Sequential(nn.Linear(16, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 1)).to(device)
    ddp = DDP(model, device_ids=[local_rank] if device.type == "cuda" else None)
    opt = torch.optim.SGD(ddp.parameters(), lr=args.lr)
    loss_fn = nn.MSELoss()
    gen = torch.Generator().manual_seed(args.seed)
    w_true = torch.randn(16, 1, generator=gen)
    data_gen = torch.Generator().manual_seed(args.seed + 1 + rank)
    loss_value = float("nan")
    steps = 0
    t_train = time.time()
    for epoch in range(args.epochs):
        for _ in range(args.steps):
            x = torch.randn(args.batch_size, 16, generator=data_gen)
            y = x @ w_true + 0.01 * torch.randn(args.batch_size, 1, generator=data_gen)
            x, y = x.to(device), y.to(device)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(ddp(x), y)
            loss.backward()
            opt.step()
            steps += 1
            if args.step_seconds > 0:
                time.sleep(args.step_seconds)
        loss_value = loss.detach().clone()
        dist.all_reduce(loss_value, op=dist.ReduceOp.SUM)
        loss_value = loss_value.item() / world_size
        log(f"epoch {epoch + 1}/{args.epochs} step {steps} mean loss {loss_value:.5f}")
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
        directory = args.checkpoint_dir or os.environ.get("CHECKPOINT_DIR") or "/data"
        checkpoint = save_checkpoint(directory, {
            "model": model.state_dict(), "optimizer": opt.state_dict(), "epochs": args.epochs,
            "steps": steps, "world_size": world_size, "loss": loss_value}, log)
    if device.type == "cuda":
        dist.barrier(device_ids=[local_rank])
    else:
        dist.barrier()

    ok = allreduce_sum == expected and ranks_unique and params_in_sync and steps == args.epochs * args.steps
    result = {
        "rank": rank, "world_size": world_size, "local_rank": local_rank, "backend": backend,
        "device": str(device), "pod": os.environ.get("POD_NAME"), "master_addr": os.environ["MASTER_ADDR"],
        "master_port": os.environ["MASTER_PORT"], "allreduce_sum": allreduce_sum,
        "allreduce_expected": expected, "ranks_unique": ranks_unique, "params_in_sync": params_in_sync,
        "steps": steps, "final_loss": loss_value, "checkpoint": checkpoint,
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


if __name__ == "__main__":
    sys.exit(main())
