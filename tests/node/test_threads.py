"""CPU threads of the training processes on the real node (threadsPerProcess, docs/bench.md).

Proves (running containers): the OMP_NUM_THREADS the chart derives from the CPU limit reaches
torch, which takes it for its intra-op threads; without a limit torch takes one thread per host
core. The `bench`-marked case measures what that is worth: DDP steps per second of 2 ranks with
the chart's default, with nothing set and with hand-set thread counts (`make bench-threads`;
not part of `make test`).
"""
from __future__ import annotations

import json
import os
import statistics

import pytest

from .test_training import results

pytestmark = pytest.mark.node

PROBE = "import os, torch; print(os.environ.get('OMP_NUM_THREADS', '-'), torch.get_num_threads(), os.cpu_count())"


def threads_in_pod(cluster, r) -> tuple[str, int, int]:
    pod = r.pods()[0]["metadata"]["name"]
    env, threads, cores = cluster.exec(r.ns, pod, "python", "-c", PROBE).stdout.split()
    return env, int(threads), int(cores)


def test_should_give_torch_the_cpu_limit_divided_by_the_processes(release, node_cluster):
    # torch never takes more threads than the host has cores, and without OMP_NUM_THREADS it
    # takes one per core: a limit of 1.5 CPUs (requests stay small) must give it 1, not that.
    r = release("resources.requests.cpu=100m", "resources.limits.cpu=1500m", "resources.limits.memory=2Gi")
    r.install()
    env, threads, cores = threads_in_pod(node_cluster, r)
    assert cores > 1, "this check needs a node with 2 cores or more"
    assert (env, threads) == ("1", 1)


def test_should_leave_torch_one_thread_per_host_core_without_a_limit(release, node_cluster):
    r = release()
    r.install()
    env, threads, cores = threads_in_pod(node_cluster, r)
    assert env == "-" and threads == cores


# --- measurement (make bench-threads) ----------------------------------------------------------

RUN = ("job.enabled=true", "mode=distributed", "worldSize=2", "examples.enabled=true", "persistence.enabled=false",
       "resources.requests.cpu=500m", "resources.limits.cpu=1", "resources.limits.memory=2Gi",
       "entrypoint.args=--epochs 1 --steps 40 --batch-size 2048 --hidden 1024 --no-checkpoint")
SETTINGS = {
    "chart default (limit 1 CPU: OMP_NUM_THREADS=1)": (),
    "nothing set (OMP_NUM_THREADS empty: one thread per host core)": ("torchEnv.OMP_NUM_THREADS=",),
    "threadsPerProcess=2 (every host core)": ("threadsPerProcess=2",),
}
REPEATS = int(os.environ.get("BENCH_THREADS_REPEATS", "3"))


@pytest.mark.bench
def test_measure_steps_per_second_by_thread_setting(release, node_cluster):
    """Median DDP steps/s over REPEATS runs of each setting, interleaved; the chart's default
    must reach 0.95 of the best setting."""
    rates: dict[str, list[float]] = {k: [] for k in SETTINGS}
    threads: dict[str, int] = {}
    for i in range(REPEATS):
        for label, sets in SETTINGS.items():
            r = release(*RUN, *sets, name=f"t{i}-{list(SETTINGS).index(label)}")
            r.install(wait=False)
            _, found = results(node_cluster, r, expected=2, timeout=400)
            rates[label].append(min(f["steps"] / f["train_seconds"] for f in found))
            threads[label] = found[0]["threads"]
            node_cluster.delete_namespace(r.ns, wait=False)
    medians = {k: statistics.median(v) for k, v in rates.items()}
    best = max(medians.values())
    lines = [f"| {k} | {threads[k]} | {medians[k]:.2f} ({min(rates[k]):.2f}-{max(rates[k]):.2f}) | "
             f"{medians[k] / best:.2f} |" for k in SETTINGS]
    table = "\n".join(["| setting | torch threads | steps/s, median (min-max) | of the best |",
                       "| --- | ---: | ---: | ---: |", *lines])
    print("\n" + table)
    out = os.environ.get("BENCH_THREADS_OUT")
    if out:
        with open(out, "w") as f:
            json.dump({"rates": rates, "threads": threads, "table": table}, f, indent=1)
    default = medians[next(iter(SETTINGS))]
    assert default >= 0.95 * best, table
