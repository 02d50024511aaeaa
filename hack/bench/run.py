#!/usr/bin/env python3
"""`make bench`: this chart against Kubeflow's operators, 8 to 1,024 ranks, side by side.

For every case of tests/bench/measure.py (this chart in three set-ups, PyTorchJob, TrainJob and
a bare Indexed Job) and every N, it measures the time from submit until all N pods are Running
and Ready, the objects created and the API requests served, each at least --repeats times.
Repetitions are the outer loop: each round starts one control plane per case (hack/bench/up.sh,
with only that case's controllers) and runs the sizes in increasing order on it, so load from
other processes of the machine spreads over every case instead of spoiling one.

Writes .cache/bench/results.json (every run), the results table into docs/bench.md (between
its `bench:results` markers) and the plot docs/bench.png.

usage: hack/bench/run.py [--sizes 8,64,256,1024] [--repeats 3] [--cases KEY,...] [--nodes 4]
                         [--no-docs] [--from-results]   (--from-results: only redo table and plot)
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from bench.measure import CASES, CHART, DEFAULT_CASES, BenchCluster, run_once  # noqa: E402

RESULTS = ROOT / ".cache" / "bench" / "results.json"
DOC = ROOT / "docs" / "bench.md"
PLOT = ROOT / "docs" / "bench.png"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
CLUSTER = "bench"


def log(msg: str) -> None:
    print(f">> [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ensure_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log("installing hack/bench/requirements.txt into .venv (the plot)")
        subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q",
                        "-r", str(ROOT / "hack" / "bench" / "requirements.txt")], check=True)


def measure(sizes: list[int], repeats: int, cases: list[str], nodes: int) -> dict:
    out = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "chart": str(CHART), "sizes": sizes, "repeats": repeats,
           "nodes": nodes, "runs": [], "startup_s": []}
    start = time.monotonic()
    for rep in range(repeats):
        for key in cases:
            case = CASES[key]
            cp = BenchCluster(name=CLUSTER, nodes=nodes, peers=case.peers)
            cp.down()
            cp.up()
            out["startup_s"].append(round(cp.startup_seconds, 2))
            log(f"round {rep + 1}/{repeats} {key}: control plane up in {cp.startup_seconds:.1f}s")
            try:
                run_once(cp, case, 8, ns="warm-up")   # discarded: first requests of a fresh API server
                for n in sizes:
                    run = run_once(cp, case, n, ns=f"{key}-{n}-{rep}")
                    if run.ranks != list(range(n)):
                        raise RuntimeError(f"{key} N={n}: ranks are not 0..{n - 1}")
                    out["runs"].append({**asdict(run), "rep": rep})
                    log(f"  {key} N={n}: Running {run.running_s:.2f}s Ready {run.ready_s:.2f}s "
                        f"(submit {run.submit_s:.2f}s) objects {run.metrics['objects']} "
                        f"requests {run.metrics['requests']} settle {run.settle_s:.1f}s")
                    RESULTS.parent.mkdir(parents=True, exist_ok=True)
                    RESULTS.write_text(json.dumps(out, indent=1) + "\n")
            finally:
                cp.down()
    out["total_s"] = round(time.monotonic() - start, 1)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")
    return out


# --- table and plot ----------------------------------------------------------------------

def aggregate(results: dict) -> dict[tuple[str, int], dict]:
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in results["runs"]:
        groups.setdefault((r["case"], r["n"]), []).append(r)
    agg = {}
    for key, runs in groups.items():
        def stat(get):
            vals = [get(r) for r in runs]
            return statistics.median(vals), min(vals), max(vals)
        agg[key] = {
            "runs": len(runs),
            "running": stat(lambda r: r["running_s"]),
            "ready": stat(lambda r: r["ready_s"]),
            "submit": stat(lambda r: r["submit_s"]),
            "created": stat(lambda r: r["created_s"]),
            "objects": stat(lambda r: r["metrics"]["objects"]),
            "events": stat(lambda r: r["metrics"]["events"]),
            "requests": stat(lambda r: r["metrics"]["requests"]),
            "writes": stat(lambda r: r["metrics"]["writes"]),
            "cpu": stat(lambda r: sum(r["cpu_s"].values())),
            "objects_by_resource": runs[0]["metrics"]["objects_by_resource"],
        }
    return agg


def table(results: dict) -> str:
    agg = aggregate(results)
    cases = [k for k in CASES if any(c == k for c, _ in agg)]
    sizes = sorted({n for _, n in agg})
    chart = "" if results.get("chart", str(ROOT)) == str(ROOT) else f" Chart: {results['chart']}."
    lines = [f"Measured {results['started']}, {results['repeats']} runs per cell, {results['nodes']} simulated nodes; "
             f"the whole `make bench` took {results.get('total_s', 0) / 60:.1f} min. "
             f"Seconds from submit: median (min-max).{chart}", ""]
    def table(cell) -> list[str]:
        """A case x N table whose cells are cell(aggregate), empty where a case was not run."""
        rows = ["| case | " + " | ".join(f"N={n}" for n in sizes) + " |", "| --- |" + " ---: |" * len(sizes)]
        for c in cases:
            cells = ["" if (a := agg.get((c, n))) is None else cell(a) for n in sizes]
            rows.append(f"| {CASES[c].title} | " + " | ".join(cells) + " |")
        return rows

    for title, metric in (("All N pods Running", "running"), ("All N pods Ready", "ready")):
        lines += [f"**{title}**", ""]
        lines += table(lambda a, m=metric: f"{a[m][0]:.2f} ({a[m][1]:.2f}-{a[m][2]:.2f})")
        lines.append("")
    lines += ["**API objects created / API requests served / CPU seconds** (medians; objects without Events, "
              "requests without watches, leases and nodes; CPU of every control-plane and operator process "
              "from submit until the counters settled)", ""]
    lines += table(lambda a: f"{a['objects'][0]:.0f} / {a['requests'][0]:.0f} / {a['cpu'][0]:.1f}")
    lines += ["", f"**Objects by kind at N={sizes[-1]}** (one run)", ""]
    for c in cases:
        a = agg.get((c, sizes[-1]))
        if a:
            kinds = ", ".join(f"{v} {k}" for k, v in a["objects_by_resource"].items())
            lines.append(f"- {CASES[c].title}: {kinds}; {a['events'][0]:.0f} events")
    return "\n".join(lines) + "\n"


def write_doc(results: dict) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Benchmark\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{table(results)}{END}{tail}")


def plot(results: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg = aggregate(results)
    cases = [k for k in CASES if any(c == k for c, _ in agg)]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(17, 5.4))
    for c in cases:
        pts = sorted((n, a) for (k, n), a in agg.items() if k == c)
        ns = [n for n, _ in pts]
        med = [a["running"][0] for _, a in pts]
        err = [[a["running"][0] - a["running"][1] for _, a in pts], [a["running"][2] - a["running"][0] for _, a in pts]]
        style = "-" if CASES[c].is_chart else "--"
        ax1.errorbar(ns, med, yerr=err, fmt="o" + style, capsize=3, label=CASES[c].title)
        ax2.plot(ns, [a["requests"][0] for _, a in pts], "o" + style, label=CASES[c].title)
        ax3.plot(ns, [a["cpu"][0] for _, a in pts], "o" + style, label=CASES[c].title)
    for ax, ylabel in ((ax1, "seconds from submit to all N pods Running\n(median, min-max)"),
                       (ax2, "API requests served (median)"),
                       (ax3, "CPU seconds, control plane + operators (median)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("ranks (N)")
        ax.set_ylabel(ylabel)
        ax.set_xticks(results["sizes"], [str(n) for n in results["sizes"]])
        ax.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8)
    fig.suptitle(f"Time to all ranks Running and API load: this chart vs Kubeflow operators "
                 f"(embedded control plane, kwok nodes; {results['started']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="8,64,256,1024")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cases", default=",".join(DEFAULT_CASES), help=f"of {', '.join(CASES)}")
    p.add_argument("--nodes", type=int, default=4)
    p.add_argument("--no-docs", action="store_true", help="measure only; leave docs/ alone")
    p.add_argument("--from-results", action="store_true", help=f"redo table and plot from {RESULTS}")
    a = p.parse_args()
    cases = a.cases.split(",")
    unknown = set(cases) - set(CASES)
    if unknown:
        p.error(f"unknown case(s) {sorted(unknown)}; known: {', '.join(CASES)}")
    if a.from_results:
        results = json.loads(RESULTS.read_text())
    else:
        if not a.no_docs:
            ensure_matplotlib()
        results = measure([int(n) for n in a.sizes.split(",")], a.repeats, cases, a.nodes)
        log(f"measured in {results['total_s'] / 60:.1f} min")
    print(table(results))
    if not a.no_docs:
        ensure_matplotlib()
        write_doc(results)
        plot(results)
        log(f"wrote {DOC.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
