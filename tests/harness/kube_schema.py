"""Strict Kubernetes schema validation with validators cached per (version, apiVersion, kind).

kubernetes_validate.validate() re-reads and re-parses the 1.8 MB definitions file on every
call (10-30 ms); a cached jsonschema validator checks an object in about 1 ms or less.

Kinds that Kubernetes does not ship (PodMonitor, PodGroup) are validated against the
openAPIV3Schema of the test CRDs (harness/crds.py: the real PodMonitor CRD, the PodGroups
written in tests/data/crds/), the same CRDs the control-plane suite installs: metadata as
Kubernetes' ObjectMeta, and unknown fields are errors (as with `kubectl --validate=strict`).
"""
from __future__ import annotations

import functools
import re

import jsonschema
import referencing
import yaml
from kubernetes_validate import utils as kv

from harness.crds import crd_files
from harness.tools import CHART
_OBJECT_META = "/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# The oldest Kubernetes version of Chart.yaml's kubeVersion range (">=1.30.0-0" gives "1.30"),
# and the newest that the installed kubernetes-validate has schemas for.
OLDEST = re.search(r'^kubeVersion:\s*"?>=\s*v?(\d+\.\d+)', (CHART / "Chart.yaml").read_text(), re.M).group(1)
NEWEST = kv.major_minor(kv.latest_version())
major_minor = kv.major_minor


@functools.lru_cache(maxsize=None)
def _definitions(version: str) -> referencing.Resource:
    return referencing.Resource.from_contents(
        kv.schema_contents(f"kubernetes-json-schema/v{version}.0-local-strict/_definitions.json", version)
    )


@functools.lru_cache(maxsize=None)
def validator(version: str, api_version: str, kind: str) -> jsonschema.protocols.Validator:
    """A strict validator for one kind at one Kubernetes version (major.minor)."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = f"kubernetes-json-schema/v{version}.0-local-strict/{kind.lower()}-{group_version}.json"
    try:
        schema = kv.schema_contents(path, version)
    except FileNotFoundError as err:
        crd = crd_schemas().get((api_version, kind))
        if crd is None:
            raise LookupError(f"no Kubernetes {version} schema for {api_version} {kind}, "
                              f"and no test CRD for it (harness/crds.py)") from err
        schema = crd_json_schema(api_version, kind, crd)
    registry = referencing.Registry().with_resources(
        [(schema.get("$id", ""), referencing.Resource.from_contents(schema))]
    )
    registry = _definitions(version) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def errors(obj: dict, version: str) -> list[str]:
    """Every schema violation of one object at one Kubernetes version, as readable lines."""
    check = validator(version, obj["apiVersion"], obj["kind"])
    if check.is_valid(obj):
        return []
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(check.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    ]


@functools.lru_cache(maxsize=None)
def crd_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> openAPIV3Schema, for every version of every test CRD."""
    out = {}
    for path in crd_files().values():
        crd = yaml.safe_load(path.read_text())
        spec = crd["spec"]
        for version in spec["versions"]:
            out[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
    return out


def _strict(node: dict) -> dict:
    """A CRD's structural schema as a JSON schema that refuses unknown fields."""
    out = {k: v for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "format"}
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if "properties" in node:
        out["properties"] = {k: _strict(v) for k, v in node["properties"].items()}
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _strict(node["additionalProperties"])
    if isinstance(node.get("items"), dict):
        out["items"] = _strict(node["items"])
    return out


def crd_json_schema(api_version: str, kind: str, crd_schema: dict) -> dict:
    """The JSON schema of one CRD version: strict, with metadata checked as ObjectMeta."""
    schema = _strict(crd_schema)
    schema["properties"]["metadata"] = {"$ref": _OBJECT_META}
    schema["properties"]["apiVersion"] = {"enum": [api_version]}
    schema["properties"]["kind"] = {"enum": [kind]}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://kubernetes.io/api/crd/{api_version}/{kind.lower()}", **schema}
