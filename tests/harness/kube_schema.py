"""Strict Kubernetes schema validation with validators cached per (version, apiVersion, kind).

kubernetes_validate.validate() re-reads and re-parses the 1.8 MB definitions file on every
call (10-30 ms); a cached jsonschema validator checks an object in about 1 ms or less.
"""
from __future__ import annotations

import functools
import re

import jsonschema
import referencing
from kubernetes_validate import utils as kv

from harness.tools import CHART

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
        raise LookupError(f"no Kubernetes {version} schema for {api_version} {kind}") from err
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
