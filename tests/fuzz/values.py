"""Values documents generated from values.schema.json with hypothesis, read at run time (so a
key another change adds is fuzzed as soon as the schema has it).

Each document is one of a few base profiles (standalone, distributed, a Job, the optional
objects on, the volume-permissions init container) with one to five leaves of the schema set
to a drawn value. A leaf's value is drawn from what the schema allows (its enum, pattern, type
and bounds) and, just as often, from what it does not: adversarial strings (uppercase,
spaces, 64+ characters, unicode, leading dashes, `{{ }}`, YAML specials), negative and huge
numbers, near misses of enum values.

Values the chart forwards untouched as Kubernetes structures (affinity, tolerations,
extraVolumes, probes overrides, extra network policy rules, ...: free-form objects and arrays
of free-form objects) are not generated: the API server validates them as the Kubernetes types
they are, and the chart adds nothing to check. PASS_THROUGH lists them at run time.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from harness.tools import CHART

SCHEMA_FILE = CHART / "values.schema.json"
Path_ = tuple[str, ...]
# Any character a YAML values file can hold: no lone surrogates, no control characters (tab and
# newline come from ADVERSARIAL_STRINGS, written escaped), no byte-order mark, nothing unassigned.
TEXT = st.characters(exclude_categories=("Cs", "Cc", "Cn"), exclude_characters="\ufeff")

ADVERSARIAL_STRINGS = (
    "UPPER", "MixedCase", "with space", " lead", "trail ", "a" * 64, "b" * 254, "x" * 300,
    "ünïcødé", "名前", "-leading-dash", "trailing-dash-", "--", "{{ }}", "{{", "}}",
    "{{ .Release.Name }}", "{{ fail \"x\" }}", "a: b", "# comment", "&anchor", "*alias", "!tag",
    "|", ">", "'", '"', "'quoted'", '"quoted"', "line\nbreak", "tab\there", "", " ", "null", "~",
    "true", "no", "0", "0123", "1e3", "-1", ".", "..", "a..b", "a/b", "/", "a_b", "a.b", "%",
    "@", "=", ",", "[a]", "{a: b}", "\\", "$(VAR)", "0x1F", "\u200b",
)
PLAIN_NAMES = ("app", "team-a", "example.com/team", "a.b.c", "x1", "my-name-1", "z")
EDGE_INTEGERS = (-(2 ** 63), -(2 ** 31), -1, 0, 1, 2, 63, 64, 1023, 1024, 1025, 10000, 10001,
                 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 53, 2 ** 63 - 1)
EDGE_NUMBERS = (-1.5, 0.5, 1.5, 1e21, 3.14159)

# Base profiles: each document starts from one (deep-merged over values.yaml by helm).
PROFILES: tuple[dict, ...] = (
    {},
    {"mode": "distributed", "worldSize": 3},
    {"examples": {"enabled": True}, "job": {"enabled": True}, "persistence": {"enabled": False}},
    {"mode": "distributed", "worldSize": 2, "examples": {"enabled": True}, "launcher": "torchrun",
     "torchrun": {"nprocPerNode": 2}, "metrics": {"enabled": True, "podMonitor": {"enabled": True}},
     "gangScheduling": {"enabled": True}, "tensorboard": {"enabled": True}},
    {"volumePermissions": {"enabled": True}},
)


@dataclass(frozen=True)
class Leaf:
    path: Path_
    strategy: st.SearchStrategy = field(compare=False)


@dataclass
class Document:
    """One generated values document and the key paths it sets."""
    index: int
    values: dict
    paths: list[Path_]

    def dotted(self) -> list[str]:
        return [".".join(p) for p in self.paths]


def load_schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text())


class _Walker:
    def __init__(self, schema: dict):
        self.schema = schema
        self.leaves: list[Leaf] = []
        self.pass_through: list[str] = []

    def resolve(self, node: dict) -> dict:
        """The node with its $ref followed and its allOf merged in (properties unioned; a
        property's own schema wins when it says something)."""
        if "$ref" in node:
            target = self.schema
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = {**self.resolve(target), **{k: v for k, v in node.items() if k != "$ref"}}
        if "allOf" in node:
            merged: dict = {}
            for part in node["allOf"]:
                part = self.resolve(part)
                props = {**merged.get("properties", {}), **part.get("properties", {})}
                merged = {**merged, **part, "properties": props}
            own = {k: v for k, v in node.items() if k != "allOf"}
            props = dict(merged.get("properties", {}))
            for key, sub in own.get("properties", {}).items():
                says = set(sub) - {"description", "default"}
                props[key] = sub if says else {**props.get(key, {}), **sub}
            node = {**merged, **own, "properties": props}
        return node

    def walk(self, node: dict, path: Path_ = ()) -> None:
        node = self.resolve(node)
        if node.get("properties") and node.get("additionalProperties") is not True:
            for key, sub in node["properties"].items():
                self.walk(sub, (*path, key))
            return
        strategy = self.strategy(node, path)
        if strategy is None:
            self.pass_through.append(".".join(path))
        else:
            self.leaves.append(Leaf(path, strategy))

    # -- strategies ----------------------------------------------------------
    def strategy(self, node: dict, path: Path_) -> st.SearchStrategy | None:
        node = self.resolve(node)
        if "oneOf" in node or "anyOf" in node:
            branches = [self.strategy(b, path) for b in node.get("oneOf", node.get("anyOf"))]
            branches = [b for b in branches if b is not None]
            return st.one_of(branches) if branches else None
        types = node.get("type")
        if isinstance(types, list):
            # A free-form structure that may also be given as a YAML string (a template) is
            # forwarded as a whole: both branches are the user's Kubernetes YAML.
            branches = [self.strategy({**node, "type": t}, path) for t in types]
            return None if None in branches else st.one_of(branches)
        make: dict[str, Callable[[dict, Path_], st.SearchStrategy | None]] = {
            "string": self.string, "integer": self.integer, "number": self.number,
            "boolean": lambda n, p: st.booleans(), "null": lambda n, p: st.none(),
            "object": self.mapping, "array": self.array,
        }
        return make[types](node, path) if types in make else None

    def string(self, node: dict, path: Path_) -> st.SearchStrategy:
        if "enum" in node:
            enum = [e for e in node["enum"] if isinstance(e, str)]
            misses = sorted({m for e in enum for m in _near_misses(e)} - set(enum))
            # A near miss one draw in four.
            return st.one_of(st.sampled_from(enum), st.sampled_from(enum), st.sampled_from(enum),
                             st.sampled_from(misses))
        valid = st.text(TEXT, max_size=12)
        if "pattern" in node:
            valid = st.from_regex(node["pattern"], fullmatch=True, alphabet=TEXT)
        return st.one_of(valid, st.sampled_from(PLAIN_NAMES), st.sampled_from(ADVERSARIAL_STRINGS))

    def integer(self, node: dict, path: Path_) -> st.SearchStrategy:
        low, high = node.get("minimum"), node.get("maximum")
        valid = st.integers(low if low is not None else -5, high if high is not None else (low or 0) + 100)
        return st.one_of(valid, valid, st.sampled_from(EDGE_INTEGERS), st.integers(-100, 100))

    def number(self, node: dict, path: Path_) -> st.SearchStrategy:
        return st.one_of(self.integer(node, path), st.sampled_from(EDGE_NUMBERS))

    def mapping(self, node: dict, path: Path_) -> st.SearchStrategy | None:
        keys = st.one_of(st.sampled_from(PLAIN_NAMES), st.sampled_from(ADVERSARIAL_STRINGS),
                         st.text(TEXT, min_size=1, max_size=10))
        values = None
        if isinstance(node.get("additionalProperties"), dict):
            values = self.strategy(node["additionalProperties"], (*path, "*"))
        elif node.get("patternProperties"):
            # Entries of each pattern with their values, and adversarial keys with any of them.
            entries = [st.tuples(st.from_regex(pattern, fullmatch=True, alphabet=TEXT), self.strategy(sub, (*path, "*")))
                       for pattern, sub in node["patternProperties"].items()]
            entries.append(st.tuples(keys, st.one_of([self.strategy(sub, (*path, "*"))
                                                      for sub in node["patternProperties"].values()])))
            return st.lists(st.one_of(entries), min_size=1, max_size=3).map(dict)
        if values is None:
            return None   # a free-form object: forwarded to Kubernetes as is
        return st.dictionaries(keys, values, min_size=1, max_size=3)

    def array(self, node: dict, path: Path_) -> st.SearchStrategy | None:
        items = self.resolve(node.get("items", {}))
        if items.get("type") == "object" and items.get("additionalProperties") is not False:
            return None   # a list of Kubernetes objects (EnvVar, Volume, ...), forwarded as is
        if items.get("type") == "object":
            fields = {k: self.strategy(v, (*path, "*", k)) for k, v in items["properties"].items()}
            item = st.fixed_dictionaries({k: v for k, v in fields.items() if v is not None})
        else:
            item = self.strategy(items, (*path, "*"))
        return None if item is None else st.lists(item, min_size=1, max_size=3)


def _near_misses(word: str) -> set[str]:
    if not word:
        return {" ", "none", "-"}
    return {word.upper(), word.lower(), word.capitalize(), f"{word} ", f" {word}", word[:-1],
            f"{word}s", word.replace("e", "3", 1)}


def leaves(schema: dict | None = None) -> tuple[list[Leaf], list[str]]:
    """The schema's leaves with their strategies, and the pass-through keys left out; the pod
    spec's Kubernetes objects are drawn from their types (passthrough.py) instead."""
    from . import passthrough
    walker = _Walker(schema or load_schema())
    walker.walk(walker.schema)
    objects = dict(passthrough.leaves(ADVERSARIAL_STRINGS))
    found = [leaf for leaf in walker.leaves if leaf.path not in objects]
    found += [Leaf(path, strategy) for path, strategy in objects.items()]
    dotted = {".".join(p) for p in objects}
    return found, [p for p in walker.pass_through if p not in dotted]


def _set(tree: dict, path: Path_, value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(tree.get(key), dict):
            tree[key] = {}
        tree = tree[key]
    tree[path[-1]] = value


def _leaf_paths(tree: dict, prefix: Path_ = ()) -> list[Path_]:
    out: list[Path_] = []
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out += _leaf_paths(value, (*prefix, key))
        else:
            out.append((*prefix, key))
    return out


@st.composite
def documents(draw, all_leaves: list[Leaf]) -> tuple[dict, list[Path_]]:
    values = copy.deepcopy(draw(st.sampled_from(PROFILES)))
    paths = _leaf_paths(values)
    chosen = draw(st.lists(st.sampled_from(all_leaves), min_size=1, max_size=5, unique_by=lambda l: l.path))
    for leaf in chosen:
        _set(values, leaf.path, draw(leaf.strategy))
        paths.append(leaf.path)
    return values, paths


def generate(count: int, seed_value: int) -> list[Document]:
    """`count` documents, the same ones for the same seed and schema."""
    all_leaves, _ = leaves()
    out: list[Document] = []

    @seed(seed_value)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(documents(all_leaves))
    def collect(doc: tuple[dict, list[Path_]]) -> None:
        out.append(Document(len(out), *doc))

    collect()
    return out[:count]
