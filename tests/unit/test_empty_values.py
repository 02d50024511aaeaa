"""Empty values as people write them: every key of values.yaml set to null on its own (in a values
file and with `--set key=null`), and to `{}`, `[]` or `""` wherever its schema type allows, in
both modes. Each case renders exactly as the defaults do (where empty means "nothing") or is
refused with a message naming the key; never a template crash (harness/sweep.py defines the
outcomes). Level: render. Counts before and after the fix: docs/values-compat.md."""
from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml

from harness import kube_schema
from harness.render import Manifests, chart_copy
from harness.sweep import MODES, Case, keys, load_values, names_key, sweep
from harness.tools import CHART

# make unit leaves the sweeps out (minutes of renders); make sweep and make test run them.
pytestmark = pytest.mark.sweep

VALUES = load_values(CHART)
V4 = yaml.safe_load((CHART / "tests" / "data" / "bitnami" / "values-4.x.yaml").read_text())
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
EMPTIES = {"object": {}, "array": [], "string": ""}


@pytest.fixture(scope="module")
def chart(tmp_path_factory):
    """A copy of the chart alone: helm loads it faster than the repository root."""
    return chart_copy(tmp_path_factory.mktemp("sweep"), {})


def report(outcomes) -> str:
    counts = Counter((o.case.form, o.kind) for o in outcomes)
    bad = [o for o in outcomes if o.kind not in ("same", "refused")]
    lines = [f"{form} {kind}: {n}" for (form, kind), n in sorted(counts.items())]
    lines += [f"{o.case.form} {o.case.mode} {o.case.key}={o.case.value!r}: {o.kind}: {o.detail[:300]}" for o in bad]
    return "\n".join(lines)


def node(key: str) -> dict:
    """The schema node of a dotted key (following $ref and allOf one level)."""
    current = SCHEMA
    for part in key.split("."):
        current = resolve(current)["properties"][part]
    return resolve(current)


def resolve(schema: dict) -> dict:
    out = dict(schema)
    if "$ref" in out:
        out = {**SCHEMA["definitions"][out.pop("$ref").split("/")[-1]], **out}
    for sub in out.pop("allOf", []):
        sub = resolve(sub)
        props = {k: {**sub.get("properties", {}).get(k, {}), **v} for k, v in out.get("properties", {}).items()}
        out = {**sub, **out, "properties": {**sub.get("properties", {}), **props}}
    return out


def types(key: str) -> list[str]:
    found = node(key).get("type", [])
    return [found] if isinstance(found, str) else list(found)


def empty(value) -> bool:
    """Whether a default is empty ("", [], {}, null, or a map of such): null may stand for it."""
    if isinstance(value, dict):
        return all(empty(v) for v in value.values())
    return value in ("", None) or value == []


def levels(found: list[str]) -> list[list[str]]:
    """The keys grouped by depth: no key of a group holds another key of it."""
    out: dict[int, list[str]] = {}
    for key in found:
        out.setdefault(key.count("."), []).append(key)
    return [out[depth] for depth in sorted(out)]


@pytest.mark.parametrize("form", ["file", "set"])
@pytest.mark.parametrize("mode", list(MODES))
def test_should_render_as_the_defaults_or_name_the_key_for_every_key_set_to_null(chart, mode, form):
    """A key whose default is empty renders as the defaults when null: each on its own in a values
    file; with --set (which helm turns into the same dropped key) a depth at a time. A key with a
    non-empty default is refused by the schema naming it; those are rendered a depth at a time
    (the schema reports every missing key at once, and refuses each the same way alone)."""
    every = list(keys(VALUES))
    nothing = [k for k in every if empty(VALUES_AT(k))]
    alone = nothing
    if form == "set":
        for group in levels([k for k in nothing if k != "worldSize"]):
            [outcome] = sweep(chart, [Case(",".join(group), mode, form)])
            assert outcome.kind == "same", report([outcome])
        alone = ["worldSize"]
    outcomes = sweep(chart, [Case(k, mode, form) for k in alone])
    assert not [o for o in outcomes if o.kind not in ("same", "refused")], report(outcomes)
    # worldSize (default null) is required in distributed mode: refused by the chart, naming it
    assert [o.case.key for o in outcomes if o.kind == "refused"] == (["worldSize"] if mode == "distributed" else [])
    for group in levels([k for k in every if k not in nothing]):
        [outcome] = sweep(chart, [Case(",".join(group), mode, form)])
        assert outcome.kind == "crash", "a batch of required keys set to null rendered"
        unnamed = [k for k in group if not names_key(outcome.detail, k)]
        assert not unnamed, f"not named by the schema error: {unnamed}\n{outcome.detail}"


def test_should_render_valid_objects_or_name_the_key_for_every_empty_value_the_type_allows(chart):
    # `{}` for a map with defaults is left out: helm merges it into the defaults, a no-op
    cases = [Case(key, mode, "file", empty) for key in keys(VALUES) for kind, empty in EMPTIES.items()
             if kind in types(key) and VALUES_AT(key) != empty and not (kind == "object" and VALUES_AT(key))
             for mode in MODES]
    outcomes = sweep(chart, cases)
    crashes = [o for o in outcomes if o.kind == "crash"]
    assert not crashes, report(outcomes)
    invalid = [f"{o.case.mode} {o.case.key}={o.case.value!r}: {line}" for o in outcomes if o.kind == "rendered"
               for obj in Manifests.parse(o.detail) for line in kube_schema.errors(obj, kube_schema.NEWEST)]
    assert not invalid, "\n".join(invalid)


def VALUES_AT(key: str):  # noqa: N802 - reads like the constant it looks up
    current = VALUES
    for part in key.split("."):
        current = current[part]
    return current


def present(key: str) -> bool:
    try:
        VALUES_AT(key)
    except (KeyError, TypeError):
        return False
    return True


# The keys of the Bitnami 4.x defaults file that values.yaml does not have, intermediate maps included.
BITNAMI = [key for key in keys(V4) if not present(key)]


@pytest.mark.parametrize("mode", list(MODES))
def test_should_render_as_the_defaults_for_every_bitnami_4x_key_set_to_null(chart, mode):
    """helm keeps the null of a key values.yaml lacks, and the chart reads it as "not set": each
    key on its own in a values file, and with --set a depth at a time."""
    assert len(BITNAMI) == 55
    outcomes = sweep(chart, [Case(key, mode, "file") for key in BITNAMI])
    assert [o for o in outcomes if o.kind != "same"] == [], report(outcomes)
    for group in levels(BITNAMI):
        [outcome] = sweep(chart, [Case(",".join(group), mode, "set")])
        assert outcome.kind == "same", report([outcome])


def test_should_render_as_the_defaults_for_every_empty_bitnami_4x_value(chart):
    cases = [Case(key, mode, "file", empty) for key in BITNAMI for kind, empty in EMPTIES.items()
             if kind in types(key) for mode in MODES]
    assert len(cases) > 80
    outcomes = sweep(chart, cases)
    assert [o for o in outcomes if o.kind != "same"] == [], report(outcomes)
