"""What Kubernetes gives each pod of a rendered workload, computed without a cluster:
the pods a controller creates (names, indexes, the labels and annotations it adds), downward-API
fieldRefs, and `$(VAR)` expansion. The unit tests and the runtime simulator (tests/runtime/podsim.py)
share these."""
from __future__ import annotations

import re
import secrets

_FIELD = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")


def _rand(n: int = 5) -> str:
    return "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


def pod_identities(workload: dict) -> list[dict]:
    """What the workload's controller gives each pod it creates at once: name, index, hostname,
    subdomain, and the labels/annotations it adds to the template's."""
    kind, name = workload["kind"], workload["metadata"]["name"]
    spec = workload["spec"]
    tmpl_spec = spec["template"]["spec"]
    out = []
    if kind == "StatefulSet":
        start = spec.get("ordinals", {}).get("start", 0)
        for i in range(start, start + spec.get("replicas", 1)):
            pod = f"{name}-{i}"
            out.append({"name": pod, "index": i, "hostname": pod, "subdomain": spec.get("serviceName", ""),
                        "labels": {"apps.kubernetes.io/pod-index": str(i),
                                   "statefulset.kubernetes.io/pod-name": pod,
                                   "controller-revision-hash": f"{name}-podsim"},
                        "annotations": {}})
    elif kind == "Job":
        uid = f"uid-{name}"
        common = {"batch.kubernetes.io/job-name": name, "job-name": name,
                  "batch.kubernetes.io/controller-uid": uid, "controller-uid": uid}
        completions = spec.get("completions", 1)
        parallelism = spec.get("parallelism", 1)
        # Only `parallelism` pods run at once: with fewer than the ranks, rendezvous cannot finish.
        running = min(parallelism, completions) if completions is not None else parallelism
        indexed = spec.get("completionMode") == "Indexed"
        for i in range(running):
            if indexed:
                pod = f"{name}-{i}-{_rand()}"
                idx = {"batch.kubernetes.io/job-completion-index": str(i)}
                out.append({"name": pod, "index": i, "hostname": tmpl_spec.get("hostname") or f"{name}-{i}",
                            "subdomain": tmpl_spec.get("subdomain", ""), "labels": {**common, **idx},
                            "annotations": dict(idx)})
            else:
                pod = f"{name}-{_rand()}"
                out.append({"name": pod, "index": i, "hostname": tmpl_spec.get("hostname") or pod,
                            "subdomain": tmpl_spec.get("subdomain", ""), "labels": dict(common),
                            "annotations": {}})
    elif kind == "Deployment":
        for i in range(spec.get("replicas", 1)):
            pod = f"{name}-podsim{i}-{_rand()}"
            out.append({"name": pod, "index": i, "hostname": tmpl_spec.get("hostname") or pod,
                        "subdomain": tmpl_spec.get("subdomain", ""),
                        "labels": {"pod-template-hash": "podsim"}, "annotations": {}})
    else:
        raise ValueError(f"unsupported workload kind {kind}")
    return out


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: defined references are replaced, `$$` is a literal `$`,
    anything else (undefined names, unclosed references) is kept as written."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    out.append(env[name] if name in env else text[i:end + 1])
                    i = end + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


def pod_metadata(workload: dict, identity: dict) -> dict:
    """The metadata of one pod: the template's labels and annotations plus the controller's."""
    template = workload["spec"]["template"]["metadata"]
    return {"name": identity["name"], "namespace": workload["metadata"].get("namespace", "default"),
            "labels": {**template.get("labels", {}), **identity["labels"]},
            "annotations": {**template.get("annotations", {}), **identity["annotations"]}}


def resolve_field_path(metadata: dict, field_path: str) -> str:
    """Resolve a downward-API metadata fieldRef; a label or annotation the pod lacks gives ""
    (the container still starts)."""
    if field_path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return metadata.get(field_path.split(".")[1], f"uid-{metadata['name']}")
    match = _FIELD.match(field_path)
    if not match:
        raise ValueError(f"unsupported fieldRef {field_path!r}")
    return metadata.get(match.group(1), {}).get(match.group(2), "")


def env_of(container: dict) -> dict:
    """A container's env as written in the manifest: {name: value, or the valueFrom map}."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def resolved_env(container: dict, metadata: dict) -> dict[str, str]:
    """A container's plain and fieldRef env for one pod, `$(VAR)` references expanded."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = expand(item["value"], env)
        elif "fieldRef" in item.get("valueFrom", {}):
            env[item["name"]] = resolve_field_path(metadata, item["valueFrom"]["fieldRef"]["fieldPath"])
    return env


def pod_envs(workload: dict, container: str = "pytorch") -> list[dict[str, str]]:
    """Each pod's resolved env, in pod index order."""
    spec = next(c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == container)
    return [resolved_env(spec, pod_metadata(workload, identity)) for identity in pod_identities(workload)]
