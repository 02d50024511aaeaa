#!/usr/bin/env python3
"""Write values.yaml's documentation into values.schema.json (`make schema`).

values.yaml is the one source of every value's documentation: its `## @param KEY [modifiers]
description` line (the readme-generator format that README.md's tables come from) and its
default. This script copies both into the schema node of each documented key, as "description"
and "default", and drops them from the nodes of the maps that hold documented keys (those have
no @param line). It also lists, in each map's "required", the keys whose default is not empty:
helm drops a key set to null (`key:` with nothing after it, or `--set key=null`), so the schema
refuses that key by name instead of a template failing without it. A key whose default is empty
("", [], {}, null, or a map of such keys) may be null: it means "nothing", as its default does. Everything else in the schema (types, patterns, enums, `definitions`, keys the
schema allows below a documented key) is written by hand and kept as it is.

usage: hack/values-schema.py [--check]
  --check  write nothing; exit 1 and print a diff when values.schema.json is out of date
"""
from __future__ import annotations

import copy
import difflib
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
VALUES = ROOT / "values.yaml"
SCHEMA = ROOT / "values.schema.json"

# "## @param image.tag [string, nullable] Image tag" -> ("image.tag", "Image tag")
PARAM = re.compile(r"^## @param (\S+)(?: \[[^\]]*\])? (.+)$", re.M)


def params(values_text: str) -> dict[str, str]:
    """Each documented key's description, in values.yaml's order."""
    return {key: text.strip() for key, text in PARAM.findall(values_text)}


def lookup(tree: dict, path: str):
    for part in path.split("."):
        tree = tree[part]
    return tree


def nullable(value) -> bool:
    """Whether null may stand for this default: it is empty, or a map of keys that may be null."""
    if isinstance(value, dict):
        return all(nullable(v) for v in value.values())
    return value in ("", None) or value == []


def generate(values_text: str, schema: dict) -> dict:
    """The schema with every documented key's description and default taken from values.yaml."""
    docs = params(values_text)
    values = yaml.safe_load(values_text)
    out = copy.deepcopy(schema)

    def fill(node: dict, tree: dict, prefix: str) -> None:
        required = [key for key in node.get("properties", {}) if key in tree and not nullable(tree[key])]
        if required:
            node["required"] = required
        else:
            node.pop("required", None)
        for key, sub in node.get("properties", {}).items():
            path = prefix + key
            if path in docs:
                sub["description"] = docs[path]
                sub["default"] = lookup(values, path)
            elif isinstance(tree.get(key), dict) and tree[key]:
                # a map of documented keys: its own node carries no second description or default
                sub.pop("description", None)
                sub.pop("default", None)
                fill(sub, tree[key], path + ".")

    fill(out, values, "")
    return out


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = argv[1:] == ["--check"]
    if argv[1:] and not check:
        print(__doc__, file=sys.stderr)
        return 2
    current = SCHEMA.read_text()
    wanted = render(generate(VALUES.read_text(), json.loads(current)))
    if not check:
        SCHEMA.write_text(wanted)
        return 0
    if wanted == current:
        return 0
    sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True),
                                               "values.schema.json (committed)", "values.schema.json (from values.yaml)"))
    print("values.schema.json is out of date: run `make schema` and commit it", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
