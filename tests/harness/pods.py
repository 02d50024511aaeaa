"""What Kubernetes gives each pod of a rendered workload, computed without a cluster."""
from __future__ import annotations

import re

_FIELD = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")


def statefulset_pod_metadata(sts: dict, ordinal: int) -> dict:
    """The metadata the StatefulSet controller gives pod `ordinal` (Kubernetes >= 1.28
    labels each pod with its ordinal as apps.kubernetes.io/pod-index)."""
    name = f"{sts['metadata']['name']}-{ordinal}"
    labels = dict(sts["spec"]["template"]["metadata"].get("labels", {}))
    labels.update({"apps.kubernetes.io/pod-index": str(ordinal), "statefulset.kubernetes.io/pod-name": name})
    return {"name": name, "namespace": sts["metadata"].get("namespace", "default"), "labels": labels,
            "annotations": dict(sts["spec"]["template"]["metadata"].get("annotations", {}))}


def resolve_field_path(metadata: dict, field_path: str) -> str:
    """Resolve a downward-API fieldRef path against a pod's metadata."""
    if field_path in ("metadata.name", "metadata.namespace"):
        return metadata[field_path.split(".")[1]]
    match = _FIELD.match(field_path)
    if not match:
        raise ValueError(f"unsupported fieldPath {field_path}")
    return metadata[match.group(1)][match.group(2)]


def resolved_env(container: dict, metadata: dict) -> dict[str, str]:
    """A container's env with values and fieldRefs resolved for one pod."""
    env = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "fieldRef" in item.get("valueFrom", {}):
            env[item["name"]] = resolve_field_path(metadata, item["valueFrom"]["fieldRef"]["fieldPath"])
    return env
