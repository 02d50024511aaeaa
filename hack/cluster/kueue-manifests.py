#!/usr/bin/env python3
"""Print the objects Kueue needs in the API server, made at set-up time from Kueue's own
module (the Go module cache; nothing of it is kept in this repository):

  - the kueue-system Namespace;
  - every CRD that config/components/crd/kustomization.yaml lists, with the conversion webhook
    that its patches ask for;
  - the mutating and validating webhook configurations of config/components/webhook/, with the
    namespace selectors of its kustomization's patches.

Kueue runs as a process next to the API server (hack/cluster/kueue.sh), so every webhook gets
`url: https://127.0.0.1:PORT/PATH` and the CA that signed Kueue's serving certificate, instead
of the in-cluster Service that kustomize would fill in.

usage: kueue-manifests.py KUEUE_MODULE_DIR CA_FILE PORT
"""
from __future__ import annotations

import base64
import copy
import sys
from pathlib import Path

import yaml

NAMESPACE = "kueue-system"


def load_all(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def crds(module: Path, client: dict) -> list[dict]:
    base = module / "config" / "components" / "crd"
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    converted = set()
    for patch in kustomization.get("patches", []):
        for doc in load_all(base / patch["path"]):
            if doc.get("spec", {}).get("conversion", {}).get("strategy") == "Webhook":
                converted.add(doc["metadata"]["name"])
    out = []
    for resource in kustomization["resources"]:
        (crd,) = load_all(base / resource)
        if crd["metadata"]["name"] in converted:
            crd["spec"]["conversion"] = {"strategy": "Webhook", "webhook": {
                "clientConfig": {**client, "url": client["url"] + "/convert"}, "conversionReviewVersions": ["v1"]}}
        out.append(crd)
    missing = converted - {c["metadata"]["name"] for c in out}
    if missing:
        raise SystemExit(f"conversion patches for CRDs that are not listed: {sorted(missing)}")
    return out


def webhooks(module: Path, client: dict) -> list[dict]:
    base = module / "config" / "components" / "webhook"
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    selectors: dict[tuple[str, str], dict] = {}
    for patch in kustomization.get("patches", []):
        doc = yaml.safe_load(patch["patch"])
        for hook in doc.get("webhooks", []):
            if "namespaceSelector" in hook:
                selectors[(doc["kind"], hook["name"])] = hook["namespaceSelector"]
    out = []
    for doc in load_all(base / "manifests.yaml"):
        doc = copy.deepcopy(doc)
        doc["metadata"]["name"] = "kueue-" + doc["metadata"]["name"]
        for hook in doc["webhooks"]:
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {**client, "url": client["url"] + path}
            selector = selectors.pop((doc["kind"], hook["name"]), None)
            if selector:
                hook["namespaceSelector"] = selector
        out.append(doc)
    if selectors:
        raise SystemExit(f"namespace selectors for webhooks that are not in manifests.yaml: {sorted(selectors)}")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    module, ca, port = Path(argv[1]), Path(argv[2]), int(argv[3])
    client = {"url": f"https://127.0.0.1:{port}", "caBundle": base64.b64encode(ca.read_bytes()).decode()}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    docs = [namespace, *crds(module, client), *webhooks(module, client)]
    yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
