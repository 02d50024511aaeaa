"""Server-side dry runs of many objects, run inside the control plane's network namespace:
`python -m fuzz.dryrun KUBECONFIG < objects.json > results.json`.

Input: a JSON list of {"id", "namespace", "object"}. Each object is POSTed to its collection
with dryRun=All and fieldValidation=Strict (found by API discovery), on a few keep-alive
connections. Output: a JSON list of {"id", "kind", "name", "code", "message", "warnings"} in
input order; code 201 (or 200) is accepted.

What the chart only refers to (a namespace that metrics.podMonitor.namespace names, a
PriorityClass) is created when the API server says it is missing, then the object is tried
again: the oracle judges whether the objects are valid, not whether their referents exist.
Standard library and PyYAML only (see tests/bench/kubeclient.py).
"""
from __future__ import annotations

import json
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from bench.kubeclient import connect

CONNECTIONS = 4
_local = threading.local()
_resources: dict[tuple[str, str], tuple[str, bool]] = {}
_lock = threading.Lock()


def _request(kubeconfig: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict, list[str]]:
    if not hasattr(_local, "conn"):
        _local.conn = connect(kubeconfig, timeout=120)
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    for attempt in (1, 2):
        try:
            _local.conn.request(method, path, body=data, headers=headers)
            resp = _local.conn.getresponse()
            raw = resp.read()
            break
        except (ConnectionError, OSError):
            _local.conn = connect(kubeconfig, timeout=120)
            if attempt == 2:
                raise
    warnings = resp.headers.get_all("Warning") or []
    try:
        doc = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        doc = {"message": raw.decode(errors="replace")}
    return resp.status, doc, warnings


def _resource(kubeconfig: str, api_version: str, kind: str) -> tuple[str, bool] | None:
    """(collection path prefix, namespaced) for apiVersion/kind, from discovery."""
    key = (api_version, kind)
    with _lock:
        if key not in _resources:
            base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            code, doc, _ = _request(kubeconfig, "GET", base)
            for res in doc.get("resources", []) if code == 200 else []:
                if "/" not in res["name"]:
                    _resources[(api_version, res["kind"])] = (f"{base}|{res['name']}", res["namespaced"])
        return _resources.get(key)


def _collection(kubeconfig: str, obj: dict, namespace: str) -> str | None:
    found = _resource(kubeconfig, obj.get("apiVersion", ""), obj.get("kind", ""))
    if found is None:
        return None
    prefix, namespaced = found
    base, plural = prefix.split("|")
    ns = obj.get("metadata", {}).get("namespace") or namespace
    return f"{base}/namespaces/{ns}/{plural}" if namespaced else f"{base}/{plural}"


def _ensure(kubeconfig: str, message: str) -> bool:
    """Create what a rejection says is missing; True when something was created."""
    missing_ns = re.search(r'namespaces "([^"]+)" not found', message)
    if missing_ns:
        code, _, _ = _request(kubeconfig, "POST", "/api/v1/namespaces",
                              {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": missing_ns.group(1)}})
        return code in (201, 409)
    missing_pc = re.search(r"no PriorityClass with name (\S+) was found", message)
    if missing_pc:
        code, _, _ = _request(kubeconfig, "POST", "/apis/scheduling.k8s.io/v1/priorityclasses",
                              {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                               "metadata": {"name": missing_pc.group(1)}, "value": 0})
        return code in (201, 409)
    return False


def dry_run(kubeconfig: str, item: dict) -> dict:
    obj, ns = item["object"], item["namespace"]
    meta = obj.get("metadata") or {}
    out = {"id": item["id"], "kind": obj.get("kind"), "name": meta.get("name"), "warnings": []}
    path = _collection(kubeconfig, obj, ns)
    if path is None:
        return {**out, "code": 0, "message": f"the API server does not serve {obj.get('apiVersion')} {obj.get('kind')}"}
    for _ in range(3):
        code, doc, warnings = _request(kubeconfig, "POST", f"{path}?dryRun=All&fieldValidation=Strict", obj)
        message = doc.get("message", "") if code >= 300 else ""
        if code < 300 or not _ensure(kubeconfig, message):
            break
    return {**out, "code": code, "message": message, "warnings": warnings}


def main() -> None:
    kubeconfig = sys.argv[1]
    items = json.load(sys.stdin)
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        results = list(pool.map(lambda i: dry_run(kubeconfig, i), items))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
