"""The pytorch image's DDP check (hack/images/checks.sh, check_pytorch), run under
`torchrun --standalone --nproc-per-node=2` as uid 1001: a gloo all_reduce, a DDP
forward/backward and a barrier on both ranks, one "... DDP backward ok" line per rank.
hack/soak-teardown.sh runs the same file many times under CPU load.

It leaves with os._exit once the process group is gone: torch's gloo teardown can abort
the process at interpreter exit after both ranks succeeded (SIGABRT, "terminate called
without an active exception"; docs/fault-tolerance.md, "Success, then an abort at exit").
"""
import os
import sys

import torch
import torch.distributed as dist

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
assert t.item() == world * (world + 1) / 2, t
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 2))
model(torch.randn(8, 4)).sum().backward()
dist.barrier()
os.write(1, f"rank {rank}/{world}: all_reduce {t.item():.0f}, DDP backward ok\n".encode())  # one write per line
del model
dist.destroy_process_group()
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
