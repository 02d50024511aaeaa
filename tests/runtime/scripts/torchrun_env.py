"""A worker started by torchrun: it prints what torchrun gave it (the TORCHELASTIC_* variables,
its ranks and world) and checks the world with an all_reduce. Nothing in it knows about this
chart."""
import json
import os
import sys
import time
from datetime import timedelta

import torch
import torch.distributed as dist


def main() -> int:
    t_init_start = time.time()
    dist.init_process_group("gloo", timeout=timedelta(seconds=120))
    t_init_end = time.time()
    total = torch.tensor([float(dist.get_rank() + 1)])
    dist.all_reduce(total)
    keys = ("RANK", "LOCAL_RANK", "GROUP_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    result = {"rank": dist.get_rank(), "world_size": dist.get_world_size(), "allreduce_sum": total.item(),
              "pod": os.environ.get("POD_NAME"), "t_init_start": t_init_start, "t_init_end": t_init_end,
              "torchelastic": {k: v for k, v in sorted(os.environ.items()) if k.startswith("TORCHELASTIC_")},
              "env": {k: os.environ.get(k) for k in keys}}
    dist.destroy_process_group()
    sys.stdout.write("DDP_RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
