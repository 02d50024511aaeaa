"""Value presets shared by the test suites, and the operations on value trees (deep merge, a
dotted path as a tree, the leaves of a tree).

Each preset is the smallest set of values that turns a feature on; tests combine them with
merge() (a deep merge, like helm's of several -f files) and add what they check."""
from __future__ import annotations

import copy


def merge(*trees: dict | None) -> dict:
    """Deep-merge value trees left to right: maps merge key by key, anything else is replaced."""
    out: dict = {}
    for tree in trees:
        for key, value in (tree or {}).items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


def nested(path: str, value) -> dict:
    """{"a": {"b": value}} for the dotted path "a.b"."""
    out: dict = {}
    node = out
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def leaves(tree: dict, prefix: str = "") -> dict[str, object]:
    """A value tree's leaf keys as dotted paths with their values; an empty map or a list is a leaf."""
    out = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(leaves(value, path + "."))
        else:
            out[path] = value
    return out


def distributed(world_size: int = 2) -> dict:
    """mode=distributed with world_size ranks (a StatefulSet, or an Indexed Job with JOB)."""
    return {"mode": "distributed", "worldSize": world_size}


REPOSITORY = "https://git.example.org/ml.git"
# Files cloned from git by the git-clone init container.
GIT = {"cloneFilesFromGit": {"enabled": True, "repository": REPOSITORY}}
# Files from an existing ConfigMap, and a script in it to run.
CODE = {"configMap": "code", "entrypoint": {"file": "train.py"}}
# The volume-permissions init container.
PERMISSIONS = {"volumePermissions": {"enabled": True}}
# A Job instead of a Deployment/StatefulSet (needs an entrypoint: add CODE).
JOB = {"job": {"enabled": True}}
# torchrun instead of python (needs an entrypoint: add CODE).
TORCHRUN = {"launcher": "torchrun"}
# One claim shared by every rank (what an Indexed Job with persistence needs).
SHARED_CLAIM = {"persistence": {"accessMode": "ReadWriteMany"}}
# Both modes, for parametrize: {"standalone": {}, "distributed": distributed(2)}.
MODES = {"standalone": {}, "distributed": distributed(2)}
