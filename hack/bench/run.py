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

With --profile it measures the same way but keeps only where the requests go: per case and N,
the API requests by verb and resource (and subresource), written to .cache/bench/profile.json
and as tables into docs/bench.md between its `bench:profile` markers (section "Where the
requests go"); the timing table and the plot are left alone. Its defaults: N = 64 and 256,
one round, the cases chart-job, chart-sts, trainjob and job. --baseline FILE adds the chart
cases of an earlier profile (e.g. one of the old chart, measured with BENCH_CHART=its checkout
and --profile-json FILE) as "before" columns.

usage: hack/bench/run.py [--sizes 8,64,256,1024] [--repeats 3] [--cases KEY,...] [--nodes 4]
                         [--no-docs] [--from-results]   (--from-results: only redo table and plot)
       hack/bench/run.py --profile [--profile-json FILE] [--baseline FILE] [--sizes ...] [--cases ...]
                         [--repeats 1] [--no-docs] [--from-results]
"""
from __future__ import annotations

import argparse
import json
import os
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
PROFILE = ROOT / ".cache" / "bench" / "profile.json"
DOC = ROOT / "docs" / "bench.md"
PLOT = ROOT / "docs" / "bench.png"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
PROFILE_MARKERS = ("<!-- bench:profile:begin -->", "<!-- bench:profile:end -->")
PROFILE_CASES = ("chart-job", "chart-sts", "trainjob", "job")
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


def chart_label() -> str:
    """The chart under test by its commit, `+changes` when its chart files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(CHART), *args], capture_output=True, text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "Chart.yaml", "values.yaml", "values.schema.json", "templates", "files")
    return commit + ("+changes" if changed else "")


def measure(sizes: list[int], repeats: int, cases: list[str], nodes: int, path: Path = RESULTS) -> dict:
    out = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "chart": str(CHART), "chart_label": chart_label(),
           "sizes": sizes, "repeats": repeats, "nodes": nodes, "runs": [], "startup_s": []}
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
                    load_before = os.getloadavg()[0]
                    run = run_once(cp, case, n, ns=f"{key}-{n}-{rep}")
                    if run.ranks != list(range(n)):
                        raise RuntimeError(f"{key} N={n}: ranks are not 0..{n - 1}")
                    out["runs"].append({**asdict(run), "rep": rep, "load": [load_before, os.getloadavg()[0]]})
                    log(f"  {key} N={n}: Running {run.running_s:.2f}s Ready {run.ready_s:.2f}s "
                        f"(submit {run.submit_s:.2f}s) objects {run.metrics['objects']} "
                        f"requests {run.metrics['requests']} settle {run.settle_s:.1f}s")
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(out, indent=1) + "\n")
            finally:
                cp.down()
    out["total_s"] = round(time.monotonic() - start, 1)
    path.write_text(json.dumps(out, indent=1) + "\n")
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
             f"Seconds from submit: median (min-max).{chart}{load_line(results)}", ""]
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
    lines += ratios(agg, sizes)
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


def load_line(results: dict) -> str:
    """The machine's 1-minute load average before and after each run: median and range."""
    loads = [x for r in results["runs"] for x in r.get("load", [])]
    if not loads:
        return ""
    return (f" Load average (1 min) of the machine at the runs' start and end: median {statistics.median(loads):.1f}, "
            f"{min(loads):.1f}-{max(loads):.1f}.")


# The targets: the chart's Job and StatefulSet without claims against TrainJob (at most 0.9x,
# 1.0x at 8 ranks), and the default install against the StatefulSet without claims (1.2x).
RATIOS = (("chart-job", "trainjob"), ("chart-sts", "trainjob"), ("chart-sts-claims", "chart-sts"))


def ratios(agg: dict, sizes: list[int]) -> list[str]:
    """Median time to all N Running of a chart case divided by its reference's, per N."""
    rows = [r for r in RATIOS if any((c, n) in agg and (ref, n) in agg for c, ref in [r] for n in sizes)]
    if not rows:
        return []
    lines = ["**Ratios** (median time to all N pods Running, case ÷ reference)", "",
             "| case | reference | " + " | ".join(f"N={n}" for n in sizes) + " |", "| --- | --- |" + " ---: |" * len(sizes)]
    for c, ref in rows:
        cells = [f"{agg[(c, n)]['running'][0] / agg[(ref, n)]['running'][0]:.2f}"
                 if (c, n) in agg and (ref, n) in agg else "" for n in sizes]
        lines.append(f"| {CASES[c].title} | {CASES[ref].title} | " + " | ".join(cells) + " |")
    return lines + [""]


def write_doc(body: str, markers: tuple[str, str] = (BEGIN, END)) -> None:
    """Put BODY between the two markers of docs/bench.md (appended when they are missing)."""
    begin, end = markers
    text = DOC.read_text() if DOC.exists() else "# Benchmark\n"
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    DOC.write_text(f"{head}{begin}\n{body}{end}{tail}")


# --- where the requests go (--profile) ---------------------------------------------------

def profile_columns(results: dict, baseline: dict | None) -> list[tuple[str, dict[int, list[dict]]]]:
    """(heading, {N: [each run]}) per column: each chart case of the baseline next to the same
    case now, then the other cases."""
    def runs(res: dict, case: str) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {}
        for r in res["runs"]:
            if r["case"] == case:
                out.setdefault(r["n"], []).append(r)
        return out
    cols = []
    for case in dict.fromkeys(r["case"] for r in results["runs"]):
        if baseline and CASES[case].is_chart and runs(baseline, case):
            cols.append((f"{case} {baseline['chart_label']}", runs(baseline, case)))
        cols.append((f"{case} {results['chart_label']}" if CASES[case].is_chart else case, runs(results, case)))
    return cols


def profile_table(results: dict, baseline: dict | None = None) -> str:
    """Per N, one table: API requests by verb and resource(/subresource), per column the median
    of its runs, and the size of a pod; with chart-job and trainjob, their difference."""
    cols = profile_columns(results, baseline)
    cases = [r["case"] for r in results["runs"]]
    diff = "chart-job" in cases and "trainjob" in cases
    heads = [h for h, _ in cols]
    lines = [f"Measured {results['started']}"
             + (f" (before: {baseline['started']}, chart {baseline['chart_label']})" if baseline else "")
             + f", {results['repeats']} run(s) per cell (median), {results['nodes']} simulated nodes; "
             "requests as in the table above (no watches, leases, nodes or non-resource URLs).", ""]
    for n in sorted({r["n"] for r in results["runs"]}):
        cells: dict[str, list[float]] = {}
        for i, (_, by_n) in enumerate(cols):
            verbs = [run["metrics"]["requests_by_verb"] for run in by_n.get(n, [])]
            for key in {k for v in verbs for k in v}:
                cells.setdefault(key, [0.0] * len(cols))[i] = statistics.median(v.get(key, 0) for v in verbs)
        if not cells:
            continue
        job, tj = (heads.index(f"chart-job {results['chart_label']}"), heads.index("trainjob")) if diff else (0, 0)
        lines += [f"**N={n}**", "",
                  "| request | " + " | ".join(heads) + (" | chart-job − trainjob |" if diff else " |"),
                  "| --- |" + " ---: |" * (len(cols) + diff)]
        def row(name: str, vals: list[float], decimals: int = 0) -> str:
            extra = f" | {vals[job] - vals[tj]:+.{decimals}f}" if diff else ""
            return f"| {name} | " + " | ".join(f"{v:.{decimals}f}" for v in vals) + extra + " |"
        for key, vals in sorted(cells.items(), key=lambda kv: (-max(kv[1]), kv[0])):
            lines.append(row(f"`{key}`", vals))
        totals = [sum(v[i] for v in cells.values()) for i in range(len(cols))]
        lines.append(row("**total**", totals))
        lines.append(row("**per rank**", [t / n for t in totals], 2))
        lines.append(row("bytes of a pod (JSON, at the end)",
                         [statistics.median(r.get("pod_bytes", 0) for r in by_n.get(n, [{}])) for _, by_n in cols]))
        lines.append("")
    return "\n".join(lines)


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


def profile(a: argparse.Namespace, cases: list[str]) -> int:
    path = Path(a.profile_json)
    if a.from_results:
        results = json.loads(path.read_text())
    else:
        results = measure([int(n) for n in a.sizes.split(",")], a.repeats, cases, a.nodes, path)
        log(f"profiled in {results['total_s'] / 60:.1f} min into {path}")
    baseline = json.loads(Path(a.baseline).read_text()) if a.baseline else None
    text = profile_table(results, baseline)
    print(text)
    if not a.no_docs:
        write_doc(text, PROFILE_MARKERS)
        log(f"wrote the profile into {DOC.relative_to(ROOT)}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", help="N to measure, comma-separated (8,64,256,1024; --profile: 64,256)")
    p.add_argument("--repeats", type=int, help="rounds (3; --profile: 1)")
    p.add_argument("--cases", help=f"of {', '.join(CASES)} ({', '.join(DEFAULT_CASES)}; --profile: "
                                    f"{', '.join(PROFILE_CASES)})")
    p.add_argument("--nodes", type=int, default=4)
    p.add_argument("--no-docs", action="store_true", help="measure only; leave docs/ alone")
    p.add_argument("--from-results", action="store_true",
                   help=f"redo table and plot from {RESULTS} (--profile: the profile's tables from --profile-json)")
    p.add_argument("--profile", action="store_true", help="API requests by verb and resource, per case and N")
    p.add_argument("--profile-json", default=str(PROFILE), help=f"where --profile keeps its runs ({PROFILE})")
    p.add_argument("--baseline", help="an earlier --profile-json whose chart cases become 'before' columns")
    a = p.parse_args()
    a.sizes = a.sizes or ("64,256" if a.profile else "8,64,256,1024")
    a.repeats = a.repeats or (1 if a.profile else 3)
    cases = (a.cases or ",".join(PROFILE_CASES if a.profile else DEFAULT_CASES)).split(",")
    unknown = set(cases) - set(CASES)
    if unknown:
        p.error(f"unknown case(s) {sorted(unknown)}; known: {', '.join(CASES)}")
    if a.profile:
        return profile(a, cases)
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
        write_doc(table(results))
        plot(results)
        log(f"wrote {DOC.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
