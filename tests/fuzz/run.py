"""`make fuzz`: generate documents, judge them against a control plane of their own, report.

python -m fuzz.run --count 1000 --seed 20261130 [--report .cache/fuzz/report.json]

Starts the control plane "fuzz" (hack/cluster/up.sh, stopped at the end unless CLUSTER_KEEP=1),
prints one line per escape and the counts per outcome, writes every escape (document, keys,
message) to the report, and exits 1 when there is one. See docs/fuzz.md.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

from harness.tools import ROOT

from . import oracle
from .values import Document, generate

DEFAULT_COUNT = 1000
DEFAULT_SEED = 20261130
SLICE_COUNT = 40


def fuzz(cluster, count: int, seed: int, workers: int | None = None) -> tuple[list[Document], list[oracle.Verdict], dict]:
    """Generate and judge `count` documents on a running control plane; return them, their
    verdicts and the seconds each phase took."""
    times = {}
    start = time.monotonic()
    docs = generate(count, seed)
    times["generate"] = time.monotonic() - start
    oracle.prepare(cluster)
    version = oracle.server_version(cluster)
    start = time.monotonic()
    verdicts = oracle.render_all(docs, version, workers or oracle.default_workers())
    times["render"] = time.monotonic() - start
    start = time.monotonic()
    oracle.judge(verdicts, cluster)
    times["dry-run"] = time.monotonic() - start
    return docs, verdicts, times


def escapes(docs: list[Document], verdicts: list[oracle.Verdict]) -> list[dict]:
    return [{"index": v.index, "keys": docs[v.index].dotted(), "values": docs[v.index].values,
             "namespace": v.namespace, "reason": v.reason.strip()}
            for v in verdicts if v.outcome == "escape"]


def summary(verdicts: list[oracle.Verdict]) -> dict[str, int]:
    return dict(sorted(collections.Counter(v.outcome for v in verdicts).items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--report", type=Path, default=ROOT / ".cache" / "fuzz" / "report.json")
    args = parser.parse_args()
    from cluster.controlplane import ControlPlane, missing_binaries
    if missing_binaries():
        print(f"bin/{', bin/'.join(missing_binaries())} missing: run `make setup`", file=sys.stderr)
        return 2
    started = time.monotonic()
    cluster = ControlPlane(name="fuzz", nodes=1)
    try:
        cluster.up()
        docs, verdicts, times = fuzz(cluster, args.count, args.seed)
    finally:
        if os.environ.get("CLUSTER_KEEP") != "1":
            cluster.down()
    found = escapes(docs, verdicts)
    counts = summary(verdicts)
    total = time.monotonic() - started
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps({"count": args.count, "seed": args.seed, "outcomes": counts,
                                       "seconds": {**times, "total": total}, "escapes": found}, indent=1))
    for e in found:
        print(f"ESCAPE #{e['index']} keys={','.join(e['keys'])}\n  values={json.dumps(e['values'])}\n  {e['reason'][:600]}")
    print(f"fuzz: {args.count} documents (seed {args.seed}): {counts}; "
          + ", ".join(f"{k} {v:.1f}s" for k, v in {**times, "total": total}.items()))
    print(f"report: {args.report}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
