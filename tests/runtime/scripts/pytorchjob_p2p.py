"""A training script as written for a Kubeflow PyTorchJob (one process per pod): it reads
MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE from the environment the operator gives every
pod, joins with init_method="env://", and passes a tensor around the ring of ranks with
point-to-point send/recv. Nothing in it knows about this chart."""
import json
import os
import sys
import time
from datetime import timedelta

import torch
import torch.distributed as dist


def main() -> int:
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    t_init_start = time.time()
    dist.init_process_group("gloo", init_method="env://", timeout=timedelta(seconds=120))
    t_init_end = time.time()
    nxt, prev = (rank + 1) % world, (rank - 1) % world
    out, got = torch.tensor([100.0 + rank]), torch.zeros(1)
    if rank % 2 == 0:
        dist.send(out, nxt)
        dist.recv(got, prev)
    else:
        dist.recv(got, prev)
        dist.send(out, nxt)
    dist.barrier()
    result = {"rank": rank, "world_size": world, "received": got.item(), "from": prev,
              "master_addr": os.environ["MASTER_ADDR"], "master_port": os.environ["MASTER_PORT"],
              "pod": os.environ.get("POD_NAME"), "t_init_start": t_init_start, "t_init_end": t_init_end,
              "pet": {k: v for k, v in sorted(os.environ.items()) if k.startswith("PET_")}}
    dist.destroy_process_group()
    sys.stdout.write("DDP_RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
