"""pytorch-chart: arm every Python process of the launch for the stack autopsy.

The chart's launch.sh puts this folder first on PYTHONPATH (the image's and the user's entries
stay after it) and sets PYTORCH_STACK_DUMP_DIR; Python imports this module at start-up in every
process of the launch: the training script, torchrun and each of its workers, and their forked
children. Each process registers faulthandler for SIGUSR1, writing the stacks of all its
threads to PYTORCH_STACK_DUMP_DIR/<pid>, a file that starts with one line saying who it is:

    # pytorch-stacks pid=57 RANK=2 LOCAL_RANK=0 WORLD_SIZE=4 argv=/app/ddp_train.py --epochs 6

faulthandler writes from its C signal handler, without the GIL: it works while the main
thread is blocked in a collective, in C code or in a deadlock. The chart's autopsy
(autopsy.py, run by the heartbeat liveness probe) sends the signal and copies each dump into
that process's log. Nothing else changes: without PYTORCH_STACK_DUMP_DIR this module does
nothing, a failure here is silent, and the next sitecustomize on sys.path (the image's or
the user's) is imported after this one, as it would have been without it
(docs/fault-tolerance.md, "When a rank hangs: the stack autopsy").
"""
from __future__ import annotations

import faulthandler
import os
import signal
import sys

SIGNAL = signal.SIGUSR1
_files: list = []  # the open dump files: faulthandler writes to their descriptors


def _arm() -> None:
    """Register the dump for this process (also in a forked child: it gets a file of its own)."""
    directory = os.environ.get("PYTORCH_STACK_DUMP_DIR")
    if not directory:
        return
    try:
        os.makedirs(directory, exist_ok=True)
        out = open(os.path.join(directory, str(os.getpid())), "w", encoding="utf-8", errors="replace")
        faulthandler.register(SIGNAL, file=out, all_threads=True, chain=False)
        _files.append(out)
        # The header last: a file that has it belongs to a process that can dump.
        who = " ".join(f"{k}={os.environ[k]}" for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE") if k in os.environ)
        argv = " ".join(getattr(sys, "argv", None) or [])
        out.write(f"# pytorch-stacks pid={os.getpid()} {who} argv={argv}\n".replace("  ", " "))
        out.flush()
    except (OSError, RuntimeError, ValueError):
        pass


def _chain() -> None:
    """Import the sitecustomize this one hides (the next one on sys.path), as site would have."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None or spec.origin == os.path.abspath(__file__):
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_arm()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_arm)
_chain()
