#!/usr/bin/env python3
"""Write the Kubernetes types that the chart passes into the pod spec into values.schema.json's
`$defs` (`make schema-defs`), and point the pass-through values at them.

The structure (properties, types, required, no unknown fields) comes from the OpenAPI schemas
that the kubernetes-validate package ships for the Kubernetes version the tests run
(KUBE_SCHEMA below), taken at run time from the installed package, descriptions dropped. On top
of it REFINE adds what the API server's validation checks and OpenAPI does not say (enums,
name formats, bounds, one-of rules): facts of Kubernetes' validation, written here. Every
string without a refinement may hold any text but `{{`, except to reference the release or
chart (`{{ .Release.Name }}`): these values are rendered with `tpl`.

usage: hack/k8s-defs.py [--check]
  --check  write nothing; exit 1 when values.schema.json is out of date
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import kubernetes_validate

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "values.schema.json"
KUBE_SCHEMA = "v1.37.0-local-strict"
CORE = "io.k8s.api.core.v1."

# What the chart renders as template text: a reference to the release or the chart.
TPL = r"\{\{ *\.(Release\.(Name|Namespace)|Chart\.(Name|Version|AppVersion)) *\}\}"
# Any text without `{{`, or printable ASCII with `{{` only as TPL (definitions/annotations).
TEXT = rf"^(([^{{]|\{{[^{{])*\{{?|([ -z|-~]|\{{[ -z|-~]|{TPL})*\{{?)$"
QUALIFIED = (r"^([a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?){0,7}/)?"
             r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$")
LABEL_VALUE = (rf"^(([A-Za-z0-9]|{TPL})(([-A-Za-z0-9_.]|{TPL})*([A-Za-z0-9]|{TPL}))?)?$")
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
DNS_SUBDOMAIN = (rf"^([a-z0-9]|{TPL})(([-a-z0-9]|{TPL})*([a-z0-9]|{TPL}))?"
                 rf"(\.([a-z0-9]|{TPL})(([-a-z0-9]|{TPL})*([a-z0-9]|{TPL}))?)*$")
ASCII_TEXT = r"^([ -z|-~]|\{[ -z|-~])*\{?$"
INT32 = {"type": "integer", "minimum": 0, "maximum": 2147483647}

# A relative path without a `..` segment (Go's regular expressions have no lookahead: `not`).
RELATIVE_PATH_NOT = {"pattern": r"^/|(^|/)\.\.(/|$)"}


def _s(pattern: str, **more) -> dict:
    return {"type": "string", "pattern": pattern, **more}

def _enum(*values) -> dict:
    return {"type": "string", "enum": list(values)}

LABEL_MAP = {"type": "object", "additionalProperties": False,
             "patternProperties": {QUALIFIED: _s(LABEL_VALUE, maxLength=63)}}
QUALIFIED_LIST = {"type": "array", "items": _s(QUALIFIED)}

def _values_by_operator(set_ops: tuple, empty_ops: tuple, number_ops: tuple = ()) -> list[dict]:
    """values: at least one with In/NotIn, none with Exists/DoesNotExist, one integer with Gt/Lt."""
    rules = [{"if": {"required": ["operator"], "properties": {"operator": {"enum": list(set_ops)}}},
              "then": {"required": ["values"], "properties": {"values": {"minItems": 1}}}},
             {"if": {"required": ["operator"], "properties": {"operator": {"enum": list(empty_ops)}}},
              "then": {"properties": {"values": {"maxItems": 0}}}}]
    if number_ops:
        rules.append({"if": {"required": ["operator"], "properties": {"operator": {"enum": list(number_ops)}}},
                      "then": {"required": ["values"], "properties": {"values": {
                          "minItems": 1, "maxItems": 1, "items": _s(r"^[-+]?[0-9]+$")}}}})
    return rules

# Per type: properties replaced (or added to), and extra keywords (allOf rules, bounds).
REFINE: dict[str, dict] = {
    "Toleration": {"properties": {
        "key": _s(rf"{QUALIFIED[:-1]}|^$"), "operator": _enum("Exists", "Equal"),
        "effect": _enum("", "NoSchedule", "PreferNoSchedule", "NoExecute"),
        "value": _s(LABEL_VALUE, maxLength=63)},
        "allOf": [
            {"if": {"required": ["tolerationSeconds"], "properties": {"tolerationSeconds": {"type": "integer"}}},
             "then": {"required": ["effect"], "properties": {"effect": {"const": "NoExecute"}}}},
            {"if": {"required": ["operator"], "properties": {"operator": {"const": "Exists"}}},
             "then": {"properties": {"value": {"maxLength": 0}}}},
            {"if": {"anyOf": [{"not": {"required": ["key"]}}, {"properties": {"key": {"maxLength": 0}}}]},
             "then": {"required": ["operator"], "properties": {"operator": {"const": "Exists"}}}}]},
    "NodeSelector": {"properties": {"nodeSelectorTerms": {"minItems": 1}}},
    "NodeSelectorRequirement": {"properties": {
        "key": _s(QUALIFIED), "operator": _enum("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")},
        "allOf": _values_by_operator(("In", "NotIn"), ("Exists", "DoesNotExist"), ("Gt", "Lt"))},
    "PreferredSchedulingTerm": {"properties": {"weight": {"type": "integer", "minimum": 1, "maximum": 100}}},
    "WeightedPodAffinityTerm": {"properties": {"weight": {"type": "integer", "minimum": 1, "maximum": 100}}},
    "PodAffinityTerm": {"properties": {
        "topologyKey": _s(QUALIFIED), "namespaces": {"type": "array", "items": _s(DNS_LABEL)},
        "matchLabelKeys": QUALIFIED_LIST, "mismatchLabelKeys": QUALIFIED_LIST}},
    "TopologySpreadConstraint": {"properties": {
        "maxSkew": {"type": "integer", "minimum": 1, "maximum": 2147483647}, "topologyKey": _s(QUALIFIED),
        "whenUnsatisfiable": _enum("DoNotSchedule", "ScheduleAnyway"),
        "minDomains": {"type": "integer", "minimum": 1, "maximum": 2147483647},
        "nodeAffinityPolicy": _enum("Honor", "Ignore"), "nodeTaintsPolicy": _enum("Honor", "Ignore"),
        "matchLabelKeys": QUALIFIED_LIST},
        "allOf": [{"if": {"required": ["minDomains"], "properties": {"minDomains": {"type": "integer"}}},
                   "then": {"required": ["whenUnsatisfiable"],
                            "properties": {"whenUnsatisfiable": {"const": "DoNotSchedule"}}}}]},
    "VolumeMount": {"properties": {
        "name": _s(DNS_LABEL), "mountPath": _s(ASCII_TEXT, minLength=1),
        "subPath": _s(ASCII_TEXT, **{"not": RELATIVE_PATH_NOT}), "subPathExpr": _s(ASCII_TEXT, **{"not": RELATIVE_PATH_NOT}),
        "mountPropagation": _enum("None", "HostToContainer", "Bidirectional"),
        "recursiveReadOnly": _enum("Disabled", "IfPossible", "Enabled")}},
    "Volume": {"properties": {"name": _s(DNS_LABEL)}, "minProperties": 2, "maxProperties": 2},
    "EmptyDirVolumeSource": {"properties": {"medium": _enum("", "Memory")}},
    "ConfigMapVolumeSource": {"properties": {"name": _s(DNS_SUBDOMAIN, maxLength=253),
                                             "defaultMode": {"type": "integer", "minimum": 0, "maximum": 511}}},
    "SecretVolumeSource": {"properties": {"secretName": _s(DNS_SUBDOMAIN, maxLength=253),
                                          "defaultMode": {"type": "integer", "minimum": 0, "maximum": 511}}},
    "KeyToPath": {"properties": {"key": _s(r"^[-._a-zA-Z0-9]+$", maxLength=253), "path": _s(ASCII_TEXT, minLength=1, **{"not": RELATIVE_PATH_NOT}),
                                 "mode": {"type": "integer", "minimum": 0, "maximum": 511}}},
    "PersistentVolumeClaimVolumeSource": {"properties": {"claimName": _s(DNS_SUBDOMAIN, maxLength=253)}},
    "HostPathVolumeSource": {"properties": {
        "path": _s(ASCII_TEXT, minLength=1),
        "type": _enum("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice")}},
    "EnvVar": {"properties": {"name": _s(r"^[ -<>-~]+$")},
               "allOf": [{"if": {"required": ["valueFrom"], "properties": {"valueFrom": {"type": "object"}}},
                          "then": {"properties": {"value": {"maxLength": 0}}}}]},
    "EnvVarSource": {"minProperties": 1, "maxProperties": 1},
    "ObjectFieldSelector": {"properties": {"fieldPath": _s(
        r"^(metadata\.(name|namespace|uid)|spec\.(nodeName|serviceAccountName)|status\.(hostIP|hostIPs|podIP|podIPs)"
        r"|metadata\.(labels|annotations)\['" + QUALIFIED[1:-1] + r"'\])$")}},
    "ResourceFieldSelector": {"properties": {"resource": _enum(
        "limits.cpu", "limits.memory", "limits.ephemeral-storage", "requests.cpu", "requests.memory",
        "requests.ephemeral-storage")}},
    "ConfigMapKeySelector": {"required": ["key", "name"], "properties": {
        "key": _s(r"^[-._a-zA-Z0-9]+$", maxLength=253), "name": _s(DNS_SUBDOMAIN, maxLength=253)}},
    "SecretKeySelector": {"required": ["key", "name"], "properties": {
        "key": _s(r"^[-._a-zA-Z0-9]+$", maxLength=253), "name": _s(DNS_SUBDOMAIN, maxLength=253)}},
    "SecurityContext": {"properties": {
        # Unmasked needs the pod's hostUsers: false, which the chart does not set.
        "runAsUser": INT32, "runAsGroup": INT32, "procMount": _enum("Default")},
        "allOf": [{"if": {"required": ["privileged"], "properties": {"privileged": {"const": True}}},
                   "then": {"not": {"required": ["allowPrivilegeEscalation"],
                                    "properties": {"allowPrivilegeEscalation": {"const": False}}}}}]},
    # [DOMAIN\\]USER: a NetBIOS or DNS domain, a user of at most 104 characters without
    # "/\\:;|=,+*?<>@[] or control characters and not only dots and spaces; the domain under 256
    # characters (here: the whole value at most 256); `{` is left out (no template text).
    # The chart's pods are Linux pods: a host process (which needs hostNetwork, and which Pod
    # Security refuses above "privileged") is refused; a gMSA spec name is a DNS subdomain.
    "WindowsSecurityContextOptions": {"properties": {
        "hostProcess": {"type": "boolean", "const": False},
        "gmsaCredentialSpecName": _s(DNS_SUBDOMAIN, maxLength=253),
        "gmsaCredentialSpec": {"type": "string", "minLength": 1, "maxLength": 65536},
        "runAsUserName": _s(
        r'^(([^\\/:*?"<>|.\x00-\x1f\x7f{][^\\/:*?"<>|\x00-\x1f\x7f{]{0,14}'
        r'|[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*)\\)?'
        r'[^"/\\:;|=,+*?<>@\[\]\x00-\x1f\x7f{]{1,104}$', maxLength=256,
        **{"not": {"pattern": r"(^|\\)[. ]+$"}})}},
    "SeccompProfile": {"properties": {"type": _enum("RuntimeDefault", "Localhost", "Unconfined")},
                       "allOf": [{"if": {"properties": {"type": {"const": "Localhost"}}},
                                  "then": {"required": ["localhostProfile"],
                                           "properties": {"localhostProfile": {"minLength": 1}}},
                                  "else": {"not": {"required": ["localhostProfile"]}}}]},
    "AppArmorProfile": {"required": ["type"], "properties": {"type": _enum("RuntimeDefault", "Localhost", "Unconfined")},
                        "allOf": [{"if": {"properties": {"type": {"const": "Localhost"}}},
                                   "then": {"required": ["localhostProfile"],
                                            "properties": {"localhostProfile": {"minLength": 1}}},
                                   "else": {"not": {"required": ["localhostProfile"]}}}]},
    "Capabilities": {"properties": {"add": {"type": "array", "items": _s(r"^[A-Za-z0-9_]+$")},
                                    "drop": {"type": "array", "items": _s(r"^[A-Za-z0-9_]+$")}}},
}
# The values that the chart passes into the pod spec, and the type of each (an array's items).
ROOTS = {
    ("tolerations",): ("array", "Toleration"),
    ("affinity",): ("object", "Affinity"),
    ("topologySpreadConstraints",): ("array", "TopologySpreadConstraint"),
    ("extraVolumes",): ("array", "Volume"),
    ("extraVolumeMounts",): ("array", "VolumeMount"),
    ("cloneFilesFromGit", "extraVolumeMounts"): ("array", "VolumeMount"),
    ("extraEnvVars",): ("array", "EnvVar"),
}


def _kube_defs() -> dict:
    path = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / KUBE_SCHEMA / "_definitions.json"
    return json.loads(path.read_text())["$defs"]


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _clean(node, rename: dict[str, str]):
    """Descriptions dropped, refs renamed, plain strings made template-safe text."""
    if isinstance(node, list):
        return [_clean(n, rename) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _clean(v, rename) for k, v in node.items() if k not in ("description", "x-kubernetes-list-type",
                                                                       "x-kubernetes-list-map-keys", "x-kubernetes-patch-strategy",
                                                                       "x-kubernetes-patch-merge-key", "x-kubernetes-map-type",
                                                                       "x-kubernetes-unions", "format")}
    if "$ref" in out:
        out["$ref"] = "#/$defs/" + rename[out["$ref"].rsplit("/", 1)[-1]]
    types = out.get("type")
    if (types == "string" or types == ["string", "null"]) and not {"enum", "pattern", "$ref"} & set(out):
        out["pattern"] = TEXT
    return out


def _refs(node, found: set[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                found.add(v.rsplit("/", 1)[-1])
            else:
                _refs(v, found)
    elif isinstance(node, list):
        for v in node:
            _refs(v, found)


def definitions() -> dict:
    """The $defs: every type the roots reach, with the refinements."""
    kube = _kube_defs()
    todo = [CORE + t for _, t in ROOTS.values()] + [CORE + "SecurityContext"]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(kube[name], found)
        todo += sorted(found - seen)
    rename = {}
    for name in sorted(seen):
        short = _short(name)
        rename[name] = short if short not in rename.values() else name.replace("io.k8s.", "")
    out = {}
    for name in sorted(seen, key=lambda n: rename[n]):
        node = _clean(kube[name], rename)
        node["type"] = "object" if "properties" in node or node.get("type") in (["object", "null"], "object") else node.get("type")
        if node["type"] is None:
            del node["type"]
        refine = copy.deepcopy(REFINE.get(rename[name], {}))
        for key, sub in refine.pop("properties", {}).items():
            base = node.setdefault("properties", {}).get(key, {})
            if "$ref" in base or "$ref" in sub:
                node["properties"][key] = sub
            else:
                node["properties"][key] = {**{k: v for k, v in base.items() if k != "pattern"}, **sub}
        node.update(refine)
        out[rename[name]] = node
    out["nodeSelector"] = {"description": "Node labels: qualified-name keys, label values (which may reference the release)",
                           **LABEL_MAP}
    return out


def generate(schema: dict) -> dict:
    """The schema with the $defs and the pass-through values pointing at them. (Draft 7 ignores
    the siblings of a `$ref`, so an object that may also be a template string says so by anyOf.)"""
    out = copy.deepcopy(schema)
    defs = definitions()
    out["$defs"] = defs
    props = out["properties"]
    for path, (kind, type_) in ROOTS.items():
        node = props
        for part in path[:-1]:
            node = node[part]["properties"]
        own = node[path[-1]]
        if kind == "array":
            own["items"] = {"$ref": f"#/$defs/{type_}"}
        else:
            own["anyOf"] = [{"type": "string"}, {"$ref": f"#/$defs/{type_}"}]
    props["nodeSelector"]["anyOf"] = [{"type": "string"}, {"$ref": "#/$defs/nodeSelector"}]
    # containerSecurityContext: its documented keys, `enabled`, and every other SecurityContext key,
    # which may also be null (left out when rendered, as Kubernetes reads it; Bitnami 4.x values
    # files write `seLinuxOptions: null`).
    csc, sc = props["containerSecurityContext"], defs["SecurityContext"]
    csc["additionalProperties"] = False
    for key, sub in sc["properties"].items():
        mine = csc["properties"].get(key)
        if mine is None or "$ref" in mine or "anyOf" in mine or "description" not in mine and "properties" not in mine:
            csc["properties"][key] = nullable(sub)
        elif "$ref" in sub:
            mine.setdefault("properties", {})
            target = defs[sub["$ref"].rsplit("/", 1)[-1]]
            mine["additionalProperties"] = False
            for k, v in target.get("properties", {}).items():
                mine["properties"].setdefault(k, {})
                mine["properties"][k] = {**v, **mine["properties"][k]} if "$ref" not in v else mine["properties"][k] or v
            if "allOf" in target:
                mine["allOf"] = target["allOf"]
    csc["allOf"] = sc["allOf"]
    return out


def nullable(node: dict) -> dict:
    """node, or null."""
    if "$ref" in node:
        return {"anyOf": [{"type": "null"}, node]}
    kinds = node.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    return {**node, "type": kinds + ["null"]} if kinds and "null" not in kinds else node


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = argv[1:] == ["--check"]
    current = SCHEMA.read_text()
    wanted = render(generate(json.loads(current)))
    if check:
        if wanted != current:
            print("values.schema.json's $defs are out of date: run `make schema-defs`", file=sys.stderr)
            return 1
        return 0
    SCHEMA.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
