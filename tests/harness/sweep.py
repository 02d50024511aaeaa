"""Sweeps of values.yaml's keys: every key set to null (or to an empty value) on its own, rendered
with the real `helm template` in parallel, and each outcome classified.

An outcome is one of:
- "same": helm rendered exactly what the mode's default values render;
- "rendered": helm rendered something else (judged by the caller);
- "refused": helm refused the values with a message of its own that names the key: a schema
  error at the key's path (`at '/a/b'`, or `at '/a': missing property 'b'` or `missing properties ..., 'b', ...`), or the chart's
  `fail` message (`execution error at (...): ...`) that contains the dotted key;
- "crash": any other helm error, e.g. a Go template error (`nil pointer evaluating ...`,
  `executing "..." at <...>`, `error calling ...`, `wrong type ...`, `can't evaluate field ...`)
  whose message does not name the key. A template's source excerpt (`at <.Values.a.b>`) does
  not count as naming it.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import yaml

from harness.render import NAMESPACE, RELEASE
from harness.tools import tool

MODES: dict[str, dict] = {"standalone": {}, "distributed": {"mode": "distributed", "worldSize": 4}}
SCHEMA_ERROR = "values don't meet the specifications of the schema"
FAIL_ERROR = re.compile(r"execution error at \([^)]*\):(.*)", re.S)


def keys(values: dict, prefix: str = "") -> Iterator[str]:
    """Every key of a values tree, dotted, intermediate maps included (lists are not entered)."""
    for key, value in values.items():
        yield prefix + key
        if isinstance(value, dict):
            yield from keys(value, f"{prefix}{key}.")


def nested(key: str, value) -> dict:
    """{"a": {"b": value}} for key "a.b"."""
    out: object = value
    for part in reversed(key.split(".")):
        out = {part: out}
    return out  # type: ignore[return-value]


def names_key(error: str, key: str) -> bool:
    """Whether helm's error is a refusal of its own (schema or the chart's `fail`) naming key."""
    if SCHEMA_ERROR in error:
        parts = key.split(".")
        pointer = "/" + "/".join(parts)
        parent = "/" + "/".join(parts[:-1]) if len(parts) > 1 else ""
        missing = rf"^ *- at '{re.escape(parent)}': missing propert(y|ies) (.*, )?'{re.escape(parts[-1])}'(,|$)"
        return f"at '{pointer}'" in error or f"at '{pointer}/" in error or bool(re.search(missing, error, re.M))
    failed = FAIL_ERROR.search(error)
    return bool(failed) and key in failed.group(1)


@dataclass(frozen=True)
class Case:
    key: str  # a dotted key, or several joined by commas (all set at once)
    mode: str
    form: str  # "file" or "set"
    value: object = None

    def values(self) -> dict:
        """The values file: the mode's values, then (form "file") the key's own value."""
        values = json.loads(json.dumps(MODES[self.mode]))
        if self.form == "file" and self.key:
            for key in self.key.split(","):
                merge(values, nested(key, self.value))
        return values

    def args(self) -> list[str]:
        if self.form != "set":
            return []
        assert self.value is None, "--set only sweeps null"
        return [arg for key in self.key.split(",") for arg in ("--set", f"{key}=null")]


def merge(into: dict, other: dict) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


@dataclass(frozen=True)
class Outcome:
    case: Case
    kind: str
    detail: str


def helm_template(chart: Path, args: list[str], values: dict | None = None) -> subprocess.CompletedProcess:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as values_file:
        json.dump(values or {}, values_file)
        values_file.flush()
        return subprocess.run([str(tool("helm")), "template", RELEASE, str(chart), "--namespace", NAMESPACE,
                               "-f", values_file.name, *args], capture_output=True, text=True, timeout=120)


def sweep(chart: Path, cases: list[Case]) -> list[Outcome]:
    """Render every case (in parallel) and classify it against its mode's default render."""
    baseline = {}
    for mode in MODES:
        case = Case("", mode, "file")
        proc = helm_template(chart, case.args(), case.values())
        assert proc.returncode == 0, proc.stderr
        baseline[mode] = proc.stdout

    def one(case: Case) -> Outcome:
        proc = helm_template(chart, case.args(), case.values())
        if proc.returncode == 0:
            return Outcome(case, "same" if proc.stdout == baseline[case.mode] else "rendered", proc.stdout)
        error = proc.stderr.strip()
        return Outcome(case, "refused" if names_key(error, case.key) else "crash", error)

    with ThreadPoolExecutor(max_workers=max(2, 2 * (os.cpu_count() or 1))) as pool:
        return list(pool.map(one, cases))


def load_values(chart: Path) -> dict:
    return yaml.safe_load((chart / "values.yaml").read_text())
