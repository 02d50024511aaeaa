#!/usr/bin/env python3
"""Mutation check of the render suite (docs/mutation.md).

Applies each mutant of hack/mutants.yaml (one realistic single edit of a template, values.yaml or
values.schema.json) to a temporary copy of the repository, one at a time, and runs the unit suite
(tests/unit) against it: first the test modules of the mutated file, then, only if they all pass,
the rest of the suite. A mutant is killed by the first failing test, and survives only when the
whole suite passes. The working tree is never written to; the copy is removed on exit, Ctrl-C
included.

Fails (exit 2) before running anything when a mutant's original text does not occur exactly once
in its file, or when a template file, values.yaml or values.schema.json has no mutant; exits 1
when the score (killed / mutants not marked equivalent) is under --min-score.

Usage: .venv/bin/python hack/mutate.py [--only ID ...] [--min-score 95] [--update-docs]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "hack" / "mutants.yaml"
DOCS = ROOT / "docs" / "mutation.md"
UNIT = "tests/unit"
# The render suite only: the slow suites under tests/ are left out, as in `make unit`.
MARKERS = "not cluster and not runtime and not dist and not node"
# Files a mutant may change, and the ones that must each have at least one.
MUTABLE = ("templates/", "values.yaml", "values.schema.json")
PYTEST_TIMEOUT_S = 1200
# A changed default in values.yaml shows first in the schema's copy of the defaults.
FIRST_IDS = {"values.yaml": ["test_values_schema.py::test_should_describe_every_key_in_the_schema_with_type_and_default"]}
DOCS_BEGIN, DOCS_END = "<!-- mutate:begin -->", "<!-- mutate:end -->"


@dataclass
class Mutant:
    id: str
    file: str
    description: str
    original: str
    replacement: str
    tests: list[str]
    equivalent: str | None = None


@dataclass
class Result:
    mutant: Mutant
    outcome: str        # "killed", "survived", "equivalent"
    detail: str         # the first failing test, or what else ended the run
    seconds: float


def module_for(path: str) -> list[str]:
    """The unit test modules of a mutated file, as tests/unit/test_layout.py names them:
    templates/_pod.tpl -> test_pod.py, templates/tests/test-master-address.yaml ->
    test_test_master_address.py; values.yaml and values.schema.json have two modules each."""
    if path == "values.yaml":
        return ["test_values_schema.py", "test_values.py"]
    if path == "values.schema.json":
        return ["test_values_schema.py", "test_values.py"]
    return ["test_" + Path(path).stem.lower().lstrip("_").replace("-", "_") + ".py"]


def test_path(test: str) -> str:
    """A `tests` entry as a pytest argument: module::test of tests/unit, or a path from the
    repository root (tests/cluster/...) for a mistake only another suite can see."""
    return test if test.startswith("tests/") else f"{UNIT}/{test}"


def stages(mutant: Mutant) -> list[list[str]]:
    """The pytest arguments of each stage, run in order until one fails: the mutant's own test
    ids (module::test, if any), then its modules (its `tests` modules of the unit suite, then the
    file's), then the rest of the unit suite. pytest runs the tests of one module in file order
    whatever the arguments say, so a test id goes in a stage of its own."""
    ids = [test_path(t) for t in mutant.tests + FIRST_IDS.get(mutant.file, []) if "::" in t]
    modules = [t.split("::")[0] for t in mutant.tests if not t.startswith("tests/")] + module_for(mutant.file)
    modules = [f"{UNIT}/{m}" for m in dict.fromkeys(modules)]
    rest = [UNIT, *[f"--ignore={m}" for m in modules]]
    return [s for s in (ids, modules, rest) if s]


def load(path: Path) -> list[Mutant]:
    data = yaml.safe_load(path.read_text())
    mutants = []
    for item in data["mutants"]:
        missing = {"id", "file", "description", "original", "replacement"} - item.keys()
        if missing:
            raise SystemExit(f"{path}: mutant {item.get('id', '?')} lacks {sorted(missing)}")
        unknown = item.keys() - {"id", "file", "description", "original", "replacement", "tests", "equivalent"}
        if unknown:
            raise SystemExit(f"{path}: mutant {item['id']} has unknown fields {sorted(unknown)}")
        mutants.append(Mutant(item["id"], item["file"], item["description"], item["original"], item["replacement"],
                              list(item.get("tests", [])), item.get("equivalent")))
    return mutants


def problems(mutants: list[Mutant], root: Path) -> list[str]:
    """Everything that makes the mutants file stale or incomplete; empty when it is usable."""
    out = []
    seen = set()
    for m in mutants:
        if m.id in seen:
            out.append(f"{m.id}: duplicate id")
        seen.add(m.id)
        if not m.file.startswith(MUTABLE):
            out.append(f"{m.id}: {m.file} is not a template, values.yaml or values.schema.json")
            continue
        path = root / m.file
        if not path.is_file():
            out.append(f"{m.id}: {m.file} does not exist")
            continue
        count = path.read_text().count(m.original)
        if count != 1:
            out.append(f"{m.id}: the original text occurs {count} times in {m.file} (must be exactly once; "
                       "refresh the mutant after a template change)")
        if m.original == m.replacement:
            out.append(f"{m.id}: the replacement equals the original")
        for module in [test_path(t).split("::")[0] for t in m.tests] + [f"{UNIT}/{f}" for f in module_for(m.file)]:
            if not (root / module).is_file():
                out.append(f"{m.id}: no test module {module}")
    files = {str(p.relative_to(root)) for p in (root / "templates").rglob("*") if p.is_file()}
    files |= {"values.yaml", "values.schema.json"}
    for file in sorted(files - {m.file for m in mutants}):
        out.append(f"{file}: no mutant (every template file, values.yaml and values.schema.json needs one)")
    return out


def copy_repository(dest: Path) -> Path:
    """The working tree's files (tracked and untracked, not ignored, as they are now) in dest,
    with bin/ and .venv linked to the ones this checkout uses."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, check=True, capture_output=True).stdout.decode()
    for rel in filter(None, listing.split("\0")):
        src = ROOT / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree, not yet in the index
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)
    for link in ("bin", ".venv"):
        if (ROOT / link).exists():
            (dest / link).symlink_to((ROOT / link).resolve())
    return dest


def pytest(root: Path, args: list[str]) -> tuple[int, str]:
    # A test named outside tests/unit (a control-plane test) runs whatever its marker.
    markers = [] if any(a.startswith("tests/") and not a.startswith(f"{UNIT}/") for a in args) else ["-m", MARKERS]
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *markers, *args]
    try:
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=PYTEST_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return -1, f"timeout after {PYTEST_TIMEOUT_S}s"
    return proc.returncode, proc.stdout + proc.stderr


def first_failure(output: str) -> str:
    """The first failing (or erroring) test of a pytest run's short summary."""
    found = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.M)
    if found:
        return found.group(1).removeprefix(f"{UNIT}/")
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "pytest failed without output"


def run_suite(root: Path, mutant: Mutant, quick: bool) -> tuple[str, str]:
    """("killed", first failing test) or ("survived", "") for the chart in root as it is now."""
    planned = stages(mutant)
    for args in planned[:-1] if quick else planned:
        code, output = pytest(root, args)
        if code == 5:
            raise SystemExit(f"pytest collected no tests for {args}:\n{output}")
        if code != 0:
            return "killed", first_failure(output)
    return "survived", "(--quick: the rest of the suite not run)" if quick else ""


def check(mutant: Mutant, root: Path, run_equivalent: bool, quick: bool) -> Result:
    start = time.monotonic()
    if mutant.equivalent and not run_equivalent:
        return Result(mutant, "equivalent", mutant.equivalent, 0.0)
    path = root / mutant.file
    original = path.read_text()
    path.write_text(original.replace(mutant.original, mutant.replacement, 1))
    try:
        outcome, detail = run_suite(root, mutant, quick)
    finally:
        path.write_text(original)
    if mutant.equivalent:
        # run on request to confirm the reason still holds: a killed "equivalent" is a killed mutant
        outcome, detail = ("equivalent", mutant.equivalent) if outcome == "survived" else (outcome, detail)
    return Result(mutant, outcome, detail, time.monotonic() - start)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(results: list[Result]) -> str:
    rows = ["| id | file | description | killed by |", "|---|---|---|---|"]
    for r in results:
        verdict = {"killed": f"`{r.detail}`", "survived": "**SURVIVED**",
                   "equivalent": f"EQUIVALENT: {r.detail}"}[r.outcome]
        rows.append(f"| {r.mutant.id} | {r.mutant.file} | {cell(r.mutant.description)} | {cell(verdict)} |")
    return "\n".join(rows)


def summary(results: list[Result], seconds: float) -> tuple[str, float]:
    killed = sum(r.outcome == "killed" for r in results)
    survived = sum(r.outcome == "survived" for r in results)
    equivalent = sum(r.outcome == "equivalent" for r in results)
    scored = killed + survived
    score = 100.0 * killed / scored if scored else 100.0
    text = (f"{len(results)} mutants: {killed} killed, {survived} survived, {equivalent} equivalent; "
            f"score {score:.1f}% ({killed}/{scored}); {seconds / 60:.1f} min")
    return text, score


def update_docs(text: str) -> None:
    doc = DOCS.read_text()
    begin, end = doc.index(DOCS_BEGIN) + len(DOCS_BEGIN), doc.index(DOCS_END)
    DOCS.write_text(doc[:begin] + "\n" + text + "\n" + doc[end:])


def interrupt(signum, frame) -> None:
    """SIGTERM ends the run as Ctrl-C does: through main's finally, which removes the copy."""
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=Path, default=MUTANTS)
    parser.add_argument("--only", nargs="+", metavar="ID", help="run these mutants only")
    parser.add_argument("--min-score", type=float, default=95.0, help="fail under this percentage (default 95)")
    parser.add_argument("--check-equivalent", action="store_true",
                        help="also run the mutants marked equivalent (each runs the whole suite)")
    parser.add_argument("--quick", action="store_true",
                        help="run only each mutant's own tests, not the rest of the suite (a first pass; "
                             "its survivors may still be killed by the full run)")
    parser.add_argument("--validate", action="store_true", help="only check the mutants file, run nothing")
    parser.add_argument("--update-docs", action="store_true", help=f"write the table into {DOCS.relative_to(ROOT)}")
    args = parser.parse_args()

    mutants = load(args.mutants)
    found = problems(mutants, ROOT)
    if found:
        print("hack/mutants.yaml is stale or incomplete:\n  " + "\n  ".join(found), file=sys.stderr)
        return 2
    if args.only:
        unknown = set(args.only) - {m.id for m in mutants}
        if unknown:
            print(f"no mutant {sorted(unknown)}", file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m.id in args.only]
    if args.validate:
        print(f"{len(mutants)} mutants, every original text found exactly once")
        return 0

    signal.signal(signal.SIGTERM, interrupt)
    tmp = Path(tempfile.mkdtemp(prefix="pytorch-mutate-"))
    start = time.monotonic()
    results: list[Result] = []
    try:
        root = copy_repository(tmp / "repo")
        width = max(len(m.id) for m in mutants)
        for i, mutant in enumerate(mutants, 1):
            result = check(mutant, root, args.check_equivalent, args.quick)
            results.append(result)
            shown = result.detail if result.outcome != "equivalent" else ""
            print(f"[{i:>3}/{len(mutants)}] {mutant.id:<{width}} {result.outcome:<10} {result.seconds:6.1f}s {shown}",
                  flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: the working tree was never changed; removing the copy", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    line, score = summary(results, time.monotonic() - start)
    report = table(results) + "\n\n" + line
    print("\n" + report)
    if args.update_docs:
        update_docs(report)
    if score < args.min_score:
        print(f"mutation score {score:.1f}% is under {args.min_score:g}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
