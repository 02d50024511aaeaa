"""kubeconform's schemas, written from the ones kubernetes-validate ships (kubeconform cannot
download its own here).

kubernetes-validate's strict schemas refer to one shared `_definitions.json`; kubeconform wants
one self-contained file per kind, named as its local path template names it
(`v1.30.0-standalone-strict/deployment-apps-v1.json`). write() copies each top-level kind with the
definitions it reaches (transitively) under its own `$defs`, for each Kubernetes version asked, and
writes the kinds of the test CRDs of harness/crds.py (the real PodMonitor, the two PodGroups) the same way
into `v1.30.0-crds/`, so kubeconform checks every object the chart renders and skips none. A
stamp (the package's version, the versions and the CRDs' hash) makes a second call a no-op.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.resources
import json
import re
import shutil
from pathlib import Path

from kubernetes_validate.version import __version__ as KV_VERSION

from harness import kube_schema
from harness.crds import crd_files

# kubeconform's -schema-location templates for the folder, tried in this order: the CRDs' kinds by
# their full group, then Kubernetes' kinds named the way both kubeconform and kubernetes-validate
# name them (deployment-apps-v1.json).
TEMPLATES = (
    "{{ .NormalizedKubernetesVersion }}-crds/{{ .ResourceKind }}_{{ .Group }}_{{ .ResourceAPIVersion }}.json",
    "{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json",
)
_REF = re.compile(r"^(?:/api/_definitions\.json)?#/\$defs/(.+)$")


def _refs(node: object) -> set[str]:
    """The names of the definitions that a schema node refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and (m := _REF.match(ref)):
            found.add(m.group(1))
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _local(node: object) -> object:
    """The node with every reference into _definitions.json turned into one into its own $defs."""
    if isinstance(node, dict):
        return {k: (_REF.sub(r"#/$defs/\1", v) if k == "$ref" and isinstance(v, str) else _local(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_local(v) for v in node]
    return node


def standalone(schema: dict, definitions: dict[str, dict]) -> dict:
    """One kind's schema with the definitions it reaches under its own $defs."""
    needed: set[str] = set()
    todo = _refs(schema)
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo |= _refs(definitions[name]) - needed
    out = {k: v for k, v in schema.items() if k not in ("$id", "$defs")}
    out["$defs"] = {name: definitions[name] for name in sorted(needed)}
    return _local(out)


def _stamp_text(versions: list[str]) -> str:
    crds = hashlib.sha256(b"".join(p.read_bytes() for p in crd_files().values())).hexdigest()
    return f"kubernetes-validate {KV_VERSION}; versions {' '.join(versions)}; crds {crds[:16]}\n"


def write(folder: Path, versions: list[str]) -> int:
    """Write the schemas of every kind for each major.minor version into folder; return how many
    files the folder holds (kinds times versions)."""
    stamp = folder / ".stamp"
    want = _stamp_text(versions)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Two pytest processes (xdist workers without loadgroup, or two runs) may both find the
    # folder stale: the lock makes the second wait and then find the first one's stamp.
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.is_file() and stamp.read_text() == want):
            shutil.rmtree(folder, ignore_errors=True)
            for version in versions:
                _write_version(folder, version)
            stamp.write_text(want)
    return sum(1 for _ in folder.glob("*/*.json"))


def _write_version(folder: Path, version: str) -> None:
    source = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{version}.0-local-strict"
    out = folder / f"v{version}.0-standalone-strict"
    out.mkdir(parents=True)
    definitions = json.loads((source / "_definitions.json").read_text())["$defs"]
    for path in sorted(source.iterdir(), key=lambda p: p.name):
        if path.name.startswith("_") or not path.name.endswith(".json"):
            continue
        schema = json.loads(path.read_text())
        # A kind of the API (its own file with apiVersion and kind), not a part of one.
        if "enum" in schema.get("properties", {}).get("kind", {}):
            (out / path.name).write_text(json.dumps(standalone(schema, definitions)))
    _write_crds(folder / f"v{version}.0-crds", definitions)


def _write_crds(folder: Path, definitions: dict[str, dict]) -> None:
    """The test CRDs' kinds, named by their full group (two CRDs' PodGroup would collide with each
    other, and with Kubernetes' own, under kubeconform's usual names)."""
    object_meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    folder.mkdir(parents=True)
    for (api_version, kind), crd in kube_schema.crd_schemas().items():
        schema = kube_schema.crd_json_schema(api_version, kind, crd)
        schema["properties"]["metadata"] = {"$ref": f"/api/_definitions.json#/$defs/{object_meta}"}
        group, _, version = api_version.partition("/")
        (folder / f"{kind.lower()}_{group}_{version}.json").write_text(json.dumps(standalone(schema, definitions)))
