"""The example script's metrics (files/examples/ddp_train.py, METRICS_PORT and METRICS_PATH).

Level: process. The script runs as a local process (a world of one on 127.0.0.1, real torch)
and its Prometheus text exposition is read over HTTP while it trains: the exact metric names,
types and labels, a step counter that grows, and nothing served on another path. The exposition
itself is checked value for value on the script's Metrics class. The real node proves the same
port scraped by a real Prometheus (tests/node/test_metrics.py).
"""
from __future__ import annotations

import importlib.util
import math
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from harness.proc import poll
from harness.tools import ROOT

pytestmark = pytest.mark.runtime

SCRIPT = ROOT / "files" / "examples" / "ddp_train.py"
NAMES = ["ddp_train_steps_total", "ddp_train_last_loss", "ddp_train_last_step_timestamp_seconds"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def samples(text: str) -> dict[str, float]:
    """'name{labels} value' lines -> {'name{labels}': value}; comments left out."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


@pytest.fixture(scope="module")
def ddp_train():
    if importlib.util.find_spec("torch") is None:
        pytest.fail(f"torch is not installed in {sys.prefix}: run `make setup` (or `make venv`) in {ROOT}",
                    pytrace=False)
    spec = importlib.util.spec_from_file_location("ddp_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_should_write_the_exposition_with_exact_names_types_and_values(ddp_train):
    metrics = ddp_train.Metrics(rank=3)
    before = metrics.text()
    metrics.update(7, 0.25)
    after = metrics.text()
    assert before.splitlines()[2::3] == ['ddp_train_steps_total{rank="3"} 0', 'ddp_train_last_loss{rank="3"} nan',
                                         'ddp_train_last_step_timestamp_seconds{rank="3"} 0.0']
    lines = after.splitlines()
    assert lines[:5] == [
        "# HELP ddp_train_steps_total Optimizer steps done by this rank.",
        "# TYPE ddp_train_steps_total counter",
        'ddp_train_steps_total{rank="3"} 7',
        "# HELP ddp_train_last_loss Loss of this rank's last step.",
        "# TYPE ddp_train_last_loss gauge",
    ]
    assert lines[5] == 'ddp_train_last_loss{rank="3"} 0.25'
    assert lines[6:8] == ["# HELP ddp_train_last_step_timestamp_seconds Unix time the last step ended (0: none yet).",
                          "# TYPE ddp_train_last_step_timestamp_seconds gauge"]
    assert abs(samples(after)['ddp_train_last_step_timestamp_seconds{rank="3"}'] - time.time()) < 5
    assert len(lines) == 9 and after.endswith("\n")


def test_should_serve_growing_step_counts_on_metrics_port_and_path_while_training(ddp_train, tmp_path):
    port = free_port()
    env = dict(os.environ, RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
               METRICS_PORT=str(port), METRICS_PATH="/prom", PYTHONUNBUFFERED="1")
    log = (tmp_path / "log").open("w")
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--epochs", "1", "--steps", "2000", "--step-seconds",
                             "0.05", "--no-checkpoint", "--timeout", "60"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=tmp_path)
    started = time.time()

    def scrape() -> dict[str, float] | None:
        assert proc.poll() is None, (tmp_path / "log").read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/prom", timeout=5) as resp:
                assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
                got = samples(resp.read().decode())
        except (ConnectionError, urllib.error.URLError):
            return None
        return got if got['ddp_train_steps_total{rank="0"}'] >= 1 else None

    try:
        first = poll("the first step in the metrics", scrape, deadline_s=120, every_s=0.2)
        assert sorted(first) == sorted(f'{n}{{rank="0"}}' for n in NAMES)
        second = poll("more steps in the metrics",
                      lambda: (s := scrape()) and s['ddp_train_steps_total{rank="0"}'] >
                      first['ddp_train_steps_total{rank="0"}'] and s, deadline_s=60, every_s=0.2)
        assert math.isfinite(second['ddp_train_last_loss{rank="0"}']) and second['ddp_train_last_loss{rank="0"}'] > 0
        assert started < second['ddp_train_last_step_timestamp_seconds{rank="0"}'] <= time.time()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert err.value.code == 404
        assert f"serving metrics on :{port}/prom" in (tmp_path / "log").read_text()
    finally:
        proc.kill()
        proc.wait(timeout=30)
        log.close()
