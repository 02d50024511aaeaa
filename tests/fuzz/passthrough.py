"""Values the chart passes into the pod spec as Kubernetes objects (tolerations, affinity,
topology spread, extra volumes, mounts and env, node selector, the container security context),
generated with keys and items *inside* them.

The objects are drawn from the Kubernetes types themselves, as hack/k8s-defs.py derives them
from the OpenAPI schemas kubernetes-validate ships (with its refinements: enums, name formats,
bounds), not from the values.schema.json under test: so the same documents can be judged
against an older schema. Each object takes its required fields and a few optional ones (a
Volume exactly one source), each field a value its type allows; and one object in three is
broken on purpose: an unknown field, a required field dropped, a field set to an adversarial
value or a near miss of its enum.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Any

from hypothesis import strategies as st

from harness.tools import ROOT

MAX_DEPTH = 4
VOLUME_NAMES = ("extra-a", "extra-b", "data")
NEAR_MISS_ENUMS = ("", "exists", "NoSchedul", "Honor ", "none", "In ", "XDoNotSchedule")


@lru_cache(maxsize=1)
def _k8s_defs():
    spec = importlib.util.spec_from_file_location("k8s_defs", ROOT / "hack" / "k8s-defs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Types:
    def __init__(self, adversarial: tuple, text: st.SearchStrategy):
        module = _k8s_defs()
        self.defs = module.definitions()
        self.adversarial = st.sampled_from(adversarial)
        self.text = text
        self._cache: dict[tuple[str, int], st.SearchStrategy] = {}

    # -- one object of a type -------------------------------------------------------------------
    def object(self, name: str, depth: int = 0) -> st.SearchStrategy:
        key = (name, depth)
        if key not in self._cache:
            self._cache[key] = st.deferred(lambda: self._object(self.defs[name], depth, name))
        return self._cache[key]

    def _object(self, node: dict, depth: int, name: str = "") -> st.SearchStrategy:
        props: dict = node.get("properties", {})
        if not props:
            return self.value(node, depth)
        required = [k for k in node.get("required", []) if k in props]
        optional = [k for k in props if k not in required]
        one_source = node.get("maxProperties") == len(required) + 1 if required else False

        @st.composite
        def build(draw) -> dict:
            if one_source:
                chosen = [draw(st.sampled_from(optional))]
            elif depth >= MAX_DEPTH:
                chosen = []
            else:
                chosen = draw(st.lists(st.sampled_from(optional), max_size=3, unique=True)) if optional else []
            out = {k: draw(self.value(props[k], depth + 1)) for k in [*required, *chosen]}
            if name in ("Volume", "VolumeMount") and draw(st.booleans()):
                out["name"] = draw(st.sampled_from(VOLUME_NAMES))   # mounts that find their volume
            return draw(self.broken(out, props) if draw(st.integers(0, 2)) == 0 else st.just(out))
        return build()

    def broken(self, obj: dict, props: dict) -> st.SearchStrategy:
        """The object with one thing wrong (that Kubernetes may or may not refuse)."""
        choices = [st.just({**obj, "bogusField": "x"})]
        if obj:
            choices.append(st.sampled_from(sorted(obj)).map(lambda k: {x: v for x, v in obj.items() if x != k}))
            choices.append(st.tuples(st.sampled_from(sorted(obj)), self.adversarial, st.integers(-3, 3))
                           .map(lambda t: {**obj, t[0]: t[1] if props.get(t[0], {}).get("type") != "integer" else t[2]}))
        enums = [k for k, v in props.items() if "enum" in v]
        if enums:
            choices.append(st.tuples(st.sampled_from(enums), st.sampled_from(NEAR_MISS_ENUMS))
                           .map(lambda t: {**obj, t[0]: t[1]}))
        return st.one_of(choices)

    # -- one value of a schema node -------------------------------------------------------------
    def value(self, node: dict, depth: int) -> st.SearchStrategy:
        if "$ref" in node:
            return self.object(node["$ref"].rsplit("/", 1)[-1], depth)
        types = node.get("type")
        if isinstance(types, list):
            types = next((t for t in types if t != "null"), "string")
        if "enum" in node:
            return st.sampled_from(node["enum"])
        if types == "string":
            if "pattern" in node:
                drawn = st.from_regex(node["pattern"], fullmatch=True, alphabet=st.characters(
                    min_codepoint=0x20, max_codepoint=0x7e))
                return st.one_of(drawn.map(lambda s: s[:40]), drawn)
            return self.text
        if types == "integer":
            low, high = node.get("minimum", -2), node.get("maximum", 3600)
            return st.integers(low, min(high, low + 1000))
        if types == "number":
            return st.integers(0, 100)
        if types == "boolean":
            return st.booleans()
        if types == "array":
            if depth >= MAX_DEPTH + 1:
                return st.just([])
            low = node.get("minItems", 0)
            return st.lists(self.value(node.get("items", {}), depth + 1), min_size=low,
                            max_size=max(low, min(node.get("maxItems", 2), 2)))
        if types == "object" or "patternProperties" in node or "additionalProperties" in node:
            if node.get("patternProperties"):
                pattern, sub = next(iter(node["patternProperties"].items()))
                keys = st.from_regex(pattern, fullmatch=True, alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e))
                return st.dictionaries(st.one_of(keys.map(lambda s: s[:30]), self.adversarial),
                                       self.value(sub, depth + 1), max_size=2)
            if isinstance(node.get("additionalProperties"), dict):
                return st.dictionaries(st.sampled_from(("a", "b.c", "x-y")), self.value(node["additionalProperties"], depth + 1), max_size=2)
            return st.just({})
        return self.text


@lru_cache(maxsize=1)
def _types(adversarial: tuple) -> _Types:
    text = st.one_of(st.sampled_from(("x", "value-1", "/data/x", "a b", "1")), st.sampled_from(adversarial))
    return _Types(adversarial, text)


def leaves(adversarial: tuple) -> list[tuple[tuple[str, ...], st.SearchStrategy]]:
    """(path, strategy) for every pass-through value: a list of 1-3 objects, or one object."""
    module, types = _k8s_defs(), _types(adversarial)
    out: list[tuple[tuple[str, ...], Any]] = []
    for path, (kind, name) in module.ROOTS.items():
        obj = types.object(name)
        out.append((path, st.lists(obj, min_size=1, max_size=3) if kind == "array" else obj))
    out.append((("nodeSelector",), types.value(types.defs["nodeSelector"], 0)))
    out.append((("containerSecurityContext",), types.object("SecurityContext")))
    return out
