"""values.yaml is the single source of truth: every key is documented, in the schema, and used."""
from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys

import pytest
import yaml

from harness.tools import CHART

VALUES_TEXT = (CHART / "values.yaml").read_text()
VALUES = yaml.safe_load(VALUES_TEXT)
SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def leaves(tree: dict, prefix: str = "") -> dict[str, object]:
    """Leaf keys as dotted paths; an empty map or a list is a leaf."""
    out = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(leaves(value, path + "."))
        else:
            out[path] = value
    return out


LEAVES = leaves(VALUES)


def combine(a: dict, b: dict) -> dict:
    """b's keywords over a's; their `properties` are combined property by property."""
    props = {k: {**a.get("properties", {}).get(k, {}), **b.get("properties", {}).get(k, {})}
             for k in {**a.get("properties", {}), **b.get("properties", {})}}
    return {**a, **b, **({"properties": props} if props else {})}


def resolve(node: dict) -> dict:
    """A schema node with the definitions it refers to (`$ref`, or `allOf` of `$ref`s) under it."""
    refs = ([node["$ref"]] if "$ref" in node else []) + [s["$ref"] for s in node.get("allOf", []) if "$ref" in s]
    out: dict = {}
    for ref in refs:
        target = SCHEMA
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        out = combine(out, resolve(target))
    return combine(out, node)


def schema_node(path: str) -> dict:
    """The schema of one value, with what its definitions say about it."""
    node = SCHEMA
    for part in path.split("."):
        node = resolve(node)["properties"][part]
    return resolve(node)


def test_should_document_every_key_with_a_param_line():
    documented = set(re.findall(r"^## @param (\S+)", VALUES_TEXT, re.M))
    assert documented == set(LEAVES), (set(LEAVES) - documented, documented - set(LEAVES))


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_should_describe_every_key_in_the_schema_with_type_and_default(path):
    node = schema_node(path)
    assert node.get("description") and ("type" in node or "oneOf" in node or "$ref" in node)
    assert node["default"] == LEAVES[path]


def test_should_validate_the_default_values_against_the_schema():
    import jsonschema
    jsonschema.Draft7Validator(SCHEMA).validate(VALUES)


GENERATOR = CHART / "hack" / "values-schema.py"


def generator():
    spec = importlib.util.spec_from_file_location("values_schema", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_should_take_every_description_from_its_param_line():
    params = generator().params(VALUES_TEXT)
    assert set(params) == set(LEAVES)
    assert {path: schema_node(path)["description"] for path in params} == params


def test_should_have_values_schema_generated_from_values():
    proc = subprocess.run([sys.executable, GENERATOR, "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_should_write_a_changed_param_line_and_default_into_the_schema():
    text = VALUES_TEXT.replace("## @param port PyTorch master port", "## @param port [number] The rendezvous port")
    text = text.replace("\nport: 49875\n", "\nport: 29500\n")
    port = generator().generate(text, SCHEMA)["properties"]["port"]
    assert port["description"].startswith("The rendezvous port:") and port["default"] == 29500
    assert port["minimum"] == 1 and port["maximum"] == 65535  # constraints stay as written


def test_should_share_one_definition_between_the_three_images():
    for path in ("image", "git", "volumePermissions.image"):
        node = SCHEMA
        for part in path.split("."):
            node = node["properties"][part]
        assert node["allOf"] == [{"$ref": "#/definitions/image"}], path
        assert node["additionalProperties"] is False
        assert set(node["properties"]) - {"debug"} == set(SCHEMA["definitions"]["image"]["properties"])


def test_should_keep_every_parameter_of_the_seed_chart():
    lines = (CHART / "tests" / "data" / "seed-parameters.txt").read_text().splitlines()
    names = {line for line in lines if line and not line.startswith("#")}
    assert len(names) == 67  # the seed table has 67 rows
    ours = set(LEAVES) | {p.rsplit(".", 1)[0] for p in LEAVES}
    # the seed's securityContext/probe keys and image blocks all keep their names here
    assert names - ours == set(), names - ours


# --- every key changes what the chart renders -------------------------------------------

DIST = {"mode": "distributed", "worldSize": 2}
GIT = {"cloneFilesFromGit": {"enabled": True, "repository": "https://h/r.git"}}
PERMS = {"volumePermissions": {"enabled": True}}
NODE = {"nodeAffinityPreset": {"type": "hard", "key": "k", "values": ["v"]}}
CONTEXT = {  # the values a key needs around it to have an effect
    "git.": GIT, "cloneFilesFromGit.repository": GIT, "cloneFilesFromGit.revision": GIT,
    "cloneFilesFromGit.extraVolumeMounts": {**GIT, "extraVolumes": [{"name": "k", "emptyDir": {}}]},
    "volumePermissions.image.": PERMS, "volumePermissions.resources": PERMS,
    "nodeAffinityPreset.key": NODE, "nodeAffinityPreset.values": NODE,
    "nodeAffinityPreset.type": {"nodeAffinityPreset": {"key": "k", "values": ["v"]}},
    "gpu.resourceName": {"gpu": {"count": 1}},
    "worldSize": DIST, "mode": {"worldSize": 1}, "clusterDomain": DIST,
    "entrypoint.args": {"configMap": "c", "entrypoint": {"file": "t.py"}},
    "cloneFilesFromGit.enabled": {"cloneFilesFromGit": {"repository": "https://h/r.git"}},
    "extraVolumeMounts": {"extraVolumes": [{"name": "k", "emptyDir": {}}]},
    "launcher": {"configMap": "c", "entrypoint": {"file": "t.py"}},
    "torchrun.": {"configMap": "c", "entrypoint": {"file": "t.py"}, "launcher": "torchrun"},
    "job.": {"configMap": "c", "entrypoint": {"file": "t.py"}, "job": {"enabled": True}},
    "job.enabled": {"configMap": "c", "entrypoint": {"file": "t.py"}},
    "exclusiveTopology.topologyKey": {"exclusiveTopology": {"enabled": True}},
    "kueue.topology.sliceRequired": {"kueue": {"topology": {"sliceRequired": "block", "sliceSize": 2}}},
    "kueue.topology.sliceSize": {"kueue": {"topology": {"sliceRequired": "rack", "sliceSize": 4}}},
    "gangScheduling.": {**DIST, "gangScheduling": {"enabled": True, "force": True}},
    "gangScheduling.enabled": {**DIST, "gangScheduling": {"force": True}},
    "gangScheduling.force": {**DIST, "gangScheduling": {"enabled": True}},
    "gangScheduling.coscheduling.": {**DIST, "gangScheduling": {"enabled": True, "force": True, "provider": "coscheduling"}},
    "networkPolicy.extraEgress": {"networkPolicy": {"allowExternalEgress": False}},
    "metrics.": {"metrics": {"enabled": True, "podMonitor": {"enabled": True}}},
    "metrics.enabled": {},
    "metrics.podMonitor.enabled": {"metrics": {"enabled": True}},
    "tensorboard.": {"tensorboard": {"enabled": True}},
    "tensorboard.enabled": {},
}
NEW = {  # a valid value different from the default, where type alone does not give one
    "global.imageRegistry": "mirror.local", "global.imagePullSecrets": ["s"], "global.storageClass": "fast",
    "nameOverride": "other", "fullnameOverride": "other", "clusterDomain": "k8s.local",
    "commonLabels": {"a": "b"}, "commonAnnotations": {"a": "b"},
    "image.registry": "r.local", "image.repository": "a/b", "image.tag": "9", "image.digest": "sha256:" + "f" * 64,
    "image.pullPolicy": "Always", "image.pullSecrets": ["s"],
    "git.registry": "r.local", "git.repository": "a/b", "git.tag": "9", "git.digest": "sha256:" + "f" * 64,
    "git.pullPolicy": "Always", "git.pullSecrets": ["s"],
    "volumePermissions.image.registry": "r.local", "volumePermissions.image.repository": "a/b",
    "volumePermissions.image.tag": "9", "volumePermissions.image.digest": "sha256:" + "f" * 64,
    "volumePermissions.image.pullPolicy": "Always", "volumePermissions.image.pullSecrets": ["s"],
    "volumePermissions.resources": {"limits": {"cpu": "1"}},
    "entrypoint.file": "/t.py", "entrypoint.args": ["--x"], "mode": "distributed", "worldSize": 3,
    "configMap": "code", "cloneFilesFromGit.repository": "https://other/r.git", "cloneFilesFromGit.revision": "v1",
    "cloneFilesFromGit.extraVolumeMounts": [{"name": "k", "mountPath": "/k"}],
    "extraEnvVars": [{"name": "A", "value": "b"}], "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["h"]}],
    "podLabels": {"a": "b"}, "podAnnotations": {"a": "b"}, "priorityClassName": "p",
    "podAffinityPreset": "soft", "podAntiAffinityPreset": "hard",
    "nodeAffinityPreset.type": "soft", "nodeAffinityPreset.key": "k2", "nodeAffinityPreset.values": ["v2"],
    "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}}]}},
    "nodeSelector": {"a": "b"}, "tolerations": [{"key": "a", "operator": "Exists"}], "resources": {"limits": {"cpu": "1"}},
    "securityContext.fsGroupChangePolicy": "Always",
    "containerSecurityContext.capabilities.drop": ["NET_RAW"], "containerSecurityContext.seccompProfile.type": "Unconfined",
    "livenessProbe.successThreshold": None,  # Kubernetes allows only 1: nothing else to try
    "customLivenessProbe": {"tcpSocket": {"port": 1}}, "customReadinessProbe": {"tcpSocket": {"port": 1}},
    "shm.sizeLimit": "2Gi", "extraVolumes": [{"name": "e", "emptyDir": {}}],
    "extraVolumeMounts": [{"name": "k", "mountPath": "/k"}],
    "service.type": "NodePort", "service.annotations": {"a": "b"},
    "serviceAccount.name": "sa", "serviceAccount.annotations": {"a": "b"},
    "persistence.existingClaim": "claim", "persistence.mountPath": "/ckpt", "persistence.storageClass": "fast",
    "persistence.accessMode": "ReadWriteMany",
    "launcher": "torchrun", "torchrun.extraArgs": ["--max-restarts=1"], "gpu.resourceName": "amd.com/gpu",
    "torchEnv": {"NCCL_DEBUG": "WARN"}, "job.activeDeadlineSeconds": 60, "job.ttlSecondsAfterFinished": 60,
    "job.podFailurePolicy.rules": [], "torchrun.nprocPerNode": 3, "persistence.size": "1Gi", "persistence.annotations": {"a": "b"},
    "schedulerName": "other-scheduler", "terminationGracePeriodSeconds": 120,
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}],
    "exclusiveTopology.topologyKey": "example.com/rack",
    "kueue.queueName": "q", "kueue.priorityClass": "p", "kueue.topology.required": "rack",
    "kueue.topology.preferred": "block", "kueue.topology.sliceRequired": "rack", "kueue.topology.sliceSize": 2,
    "gangScheduling.provider": "coscheduling", "gangScheduling.volcano.queue": "q",
    "networkPolicy.extraIngress": [{"from": [{"podSelector": {}}]}],
    "networkPolicy.extraEgress": [{"to": [{"podSelector": {}}]}],
    "metrics.path": "/prom", "metrics.podMonitor.namespace": "mon", "metrics.podMonitor.interval": "10s",
    "metrics.podMonitor.scrapeTimeout": "5s", "metrics.podMonitor.labels": {"a": "b"},
    "tensorboard.logDir": "tb", "tensorboard.image.registry": "r.local", "tensorboard.image.repository": "a/b",
    "tensorboard.image.tag": "9", "tensorboard.image.digest": "sha256:" + "f" * 64,
    "tensorboard.image.pullPolicy": "Always", "tensorboard.image.pullSecrets": ["s"],
    "tensorboard.resources": {"limits": {"cpu": "1"}}, "tensorboard.service.type": "NodePort",
    "tensorboard.service.annotations": {"a": "b"},
}


# What a key needs from the cluster to have an effect (helm template flags).
CAPABILITIES = {"metrics.": ("--api-versions", "monitoring.coreos.com/v1/PodMonitor")}


def changed_value(path: str, default):
    if path in NEW:
        return NEW[path]
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    raise AssertionError(f"add a changed value for {path} to NEW")


def nested(path: str, value) -> dict:
    out: dict = {}
    node = out
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def merged(*trees: dict) -> dict:
    out: dict = {}
    for tree in trees:
        for key, value in tree.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merged(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


def context_for(path: str) -> dict:
    if path in CONTEXT:
        return CONTEXT[path]
    found = [ctx for prefix, ctx in CONTEXT.items() if path == prefix or (prefix.endswith(".") and path.startswith(prefix))]
    return merged(*found) if found else {}


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_every_value_changes_the_render(render, path):
    new = changed_value(path, LEAVES[path])
    if new is None:
        assert path == "livenessProbe.successThreshold"
        assert schema_node(path)["maximum"] == schema_node(path)["minimum"] == 1
        return
    base = context_for(path)
    args = next((a for prefix, a in CAPABILITIES.items() if path.startswith(prefix)), ())
    before = render(base, show_tests=True, args=args).text
    after = render(merged(base, nested(path, new)), show_tests=True, args=args).text
    assert before != after, f"setting {path}={new!r} changed nothing"
