"""The one way tests run a command and wait for something: run() a subprocess and fail the test
with its output, wait_for() a condition by polling it against a deadline (never a bare sleep)."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from harness.tools import ROOT

T = TypeVar("T")


class CommandFailed(AssertionError):
    """A command exited non-zero; str(error) holds the command and its output."""

    def __init__(self, cmd: list[str], proc: subprocess.CompletedProcess):
        self.cmd, self.proc = cmd, proc
        self.returncode, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        super().__init__(f"`{' '.join(cmd)}` exited {proc.returncode}\n--- stdout\n{proc.stdout}\n"
                         f"--- stderr\n{proc.stderr}")


def run(cmd: Iterable[str | os.PathLike], env: dict[str, str] | None = None, *, check: bool = True,
        cwd: Path = ROOT, timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess:
    """Run a command and capture its output as text; with check, raise CommandFailed when it
    exits non-zero. env=None inherits this process's environment."""
    argv = [str(c) for c in cmd]
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc)
    return proc


def poll(what: str, probe: Callable[[], T], deadline_s: float = 30, every_s: float = 0.05,
         transient: tuple[type[BaseException], ...] = ()) -> T:
    """Call probe() until it returns something truthy and return that; an exception listed in
    `transient` counts as "not yet". Fail naming `what`, and the last answer, after deadline_s."""
    start = time.monotonic()
    last: object = None
    while True:
        try:
            last = probe()
        except transient as err:
            last = err
        else:
            if last:
                return last
        if time.monotonic() - start > deadline_s:
            raise AssertionError(f"{what} not ready after {deadline_s}s; last: {str(last)[:2000]}")
        time.sleep(every_s)


def wait_for(what: str, ready: Callable[[], bool], deadline_s: float = 30, every_s: float = 0.05) -> float:
    """Poll ready() until it returns True; fail naming `what` after deadline_s. Returns the
    seconds waited."""
    start = time.monotonic()
    poll(what, ready, deadline_s, every_s)
    return time.monotonic() - start
