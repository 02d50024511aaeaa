"""values.schema.json: bad values fail at `helm template` time with a message that names the key,
and the schema's descriptions and defaults are values.yaml's own (`make schema` writes them)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import jsonschema
import pytest
import yaml

from harness.presets import distributed, leaves
from harness.tools import CHART

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES_TEXT = (CHART / "values.yaml").read_text()
GENERATOR = CHART / "hack" / "values-schema.py"

# (id, values, --set strings, text the error must contain)
CASES = [
    ("mode-enum", {"mode": "cluster"}, (), "/mode"),
    ("mode-type", {"mode": 3}, (), "/mode"),
    ("worldsize-zero", distributed(0), (), "/worldSize"),
    ("worldsize-negative", None, ("mode=distributed", "worldSize=-2"), "/worldSize"),
    ("worldsize-string", distributed("four"), (), "/worldSize"),
    ("worldsize-float", distributed(2.5), (), "/worldSize"),
    ("threads-negative", None, ("threadsPerProcess=-1",), "/threadsPerProcess"),
    ("threads-string", {"threadsPerProcess": "auto"}, (), "/threadsPerProcess"),
    ("retention-enum", None, ("persistentVolumeClaimRetentionPolicy.whenScaled=Keep",),
     "/persistentVolumeClaimRetentionPolicy/whenScaled"),
    ("git-secret-name", None, ("cloneFilesFromGit.existingSecret=Team_Git",), "/cloneFilesFromGit/existingSecret"),
    ("pdb-number-as-string", {"pdb": {"minAvailable": "2"}}, (), "/pdb/minAvailable"),
    ("pdb-negative", None, ("pdb.maxUnavailable=-1",), "/pdb/maxUnavailable"),
    ("port-zero", {"port": 0}, (), "/port"),
    ("port-too-big", None, ("port=70000",), "/port"),
    ("port-string", {"port": "http"}, (), "/port"),
    ("metrics-port-too-big", None, ("metrics.port=70000",), "/metrics/port"),
    ("tensorboard-port-too-big", None, ("tensorboard.port=70000",), "/tensorboard/port"),
    ("metrics-path-relative", {"metrics": {"path": "metrics"}}, (), "/metrics/path"),
    ("unknown-top-level-key", {"replicas": 3}, (), "'replicas' not allowed"),
    ("unknown-nested-key", {"persistence": {"sise": "1Gi"}}, (), "'sise' not allowed"),
    ("typo-in-image", {"image": {"tags": "x"}}, (), "'tags' not allowed"),
    ("typo-in-git-image", {"git": {"tags": "x"}}, (), "'tags' not allowed"),
    ("debug-in-git-image", {"git": {"debug": True}}, (), "'debug' not allowed"),
    ("pull-policy-enum", {"image": {"pullPolicy": "Sometimes"}}, (), "/image/pullPolicy"),
    ("git-pull-policy-enum", {"git": {"pullPolicy": "Sometimes"}}, (), "/git/pullPolicy"),
    ("volume-permissions-pull-policy-enum", {"volumePermissions": {"image": {"pullPolicy": "Sometimes"}}}, (),
     "/volumePermissions/image/pullPolicy"),
    ("bad-digest", {"image": {"digest": "md5:abc"}}, (), "/image/digest"),
    ("empty-repository", {"image": {"repository": ""}}, (), "/image/repository"),
    ("negative-size", {"persistence": {"size": "-1Gi"}}, (), "/persistence/size"),
    ("garbage-size", {"persistence": {"size": "lots"}}, (), "/persistence/size"),
    ("access-mode-enum", {"persistence": {"accessMode": "ReadWrite"}}, (), "/persistence/accessMode"),
    ("relative-mount-path", {"persistence": {"mountPath": "data"}}, (), "/persistence/mountPath"),
    ("service-type-enum", {"service": {"type": "Ingress"}}, (), "/service/type"),
    ("affinity-preset-enum", {"podAffinityPreset": "medium"}, (), "/podAffinityPreset"),
    ("anti-affinity-preset-enum", {"podAntiAffinityPreset": "always"}, (), "/podAntiAffinityPreset"),
    ("node-affinity-type-enum", {"nodeAffinityPreset": {"type": "strict"}}, (), "/nodeAffinityPreset/type"),
    ("liveness-success-threshold", {"livenessProbe": {"successThreshold": 2}}, (), "/livenessProbe/successThreshold"),
    ("probe-period-zero", {"readinessProbe": {"periodSeconds": 0}}, (), "/readinessProbe/periodSeconds"),
    ("probe-negative-delay", {"livenessProbe": {"initialDelaySeconds": -1}}, (), "/livenessProbe/initialDelaySeconds"),
    ("probe-enabled-type", {"livenessProbe": {"enabled": "yes"}}, (), "/livenessProbe/enabled"),
    ("git-empty-revision", {"cloneFilesFromGit": {"revision": ""}}, (), "/cloneFilesFromGit/revision"),
    ("args-of-maps", {"entrypoint": {"args": [{"a": 1}]}}, (), "/entrypoint/args"),
    ("negative-run-as-user", {"securityContext": {"runAsUser": -1}}, (), "/securityContext/runAsUser"),
    ("fs-group-change-policy-enum", {"securityContext": {"fsGroupChangePolicy": "Never"}}, (), "/securityContext/fsGroupChangePolicy"),
    ("pull-secret-without-name", {"image": {"pullSecrets": [{"secret": "x"}]}}, (), "/image/pullSecrets/0"),
    ("global-pull-secrets-type", {"global": {"imagePullSecrets": "regcred"}}, (), "/global/imagePullSecrets"),
    ("upper-case-fullname", {"fullnameOverride": "MyTorch"}, (), "/fullnameOverride"),
    ("shm-size-garbage", {"shm": {"sizeLimit": "big"}}, (), "/shm/sizeLimit"),
    ("resources-unknown-key", {"resources": {"limit": {"cpu": 1}}}, (), "'limit' not allowed"),
    ("resource-quantity-negative", {"resources": {"limits": {"memory": "-1Gi"}}}, (), "/resources/limits/memory"),
    ("init-resource-quantity-negative", {"volumePermissions": {"resources": {"requests": {"cpu": "-1"}}}}, (),
     "/volumePermissions/resources/requests/cpu"),
    ("extra-env-without-name", {"extraEnvVars": [{"value": "x"}]}, (), "/extraEnvVars/0"),
    ("host-alias-without-ip", {"hostAliases": [{"hostnames": ["a"]}]}, (), "/hostAliases/0"),
    ("host-alias-hex-not-an-address", {"hostAliases": [{"ip": "E0090B6F:0", "hostnames": ["a"]}]}, (),
     "/hostAliases/0/ip"),
    ("host-alias-ipv6-two-gaps", {"hostAliases": [{"ip": "1::2::3", "hostnames": ["a"]}]}, (), "/hostAliases/0/ip"),
    ("debug-type", {"image": {"debug": "on"}}, (), "/image/debug"),
    ("launcher-enum", {"launcher": "mpirun"}, (), "/launcher"),
    ("gpu-count-negative", {"gpu": {"count": -1}}, (), "/gpu/count"),
    ("gpu-resource-name", {"gpu": {"resourceName": "gpu"}}, (), "/gpu/resourceName"),
    ("torch-env-name", {"torchEnv": {"BAD-NAME": "x"}}, (), "/torchEnv"),
    ("job-backoff-limit-negative", {"job": {"backoffLimit": -1}}, (), "/job/backoffLimit"),
    ("job-deadline-zero", {"job": {"activeDeadlineSeconds": 0}}, (), "/job/activeDeadlineSeconds"),
    ("max-restarts-negative", None, ("faultTolerance.maxRestarts=-1",), "/faultTolerance/maxRestarts"),
    ("min-nodes-negative", None, ("faultTolerance.minNodes=-1",), "/faultTolerance/minNodes"),
    ("exit-code-zero", {"faultTolerance": {"nonRetriableExitCodes": [0, 2]}}, (), "/faultTolerance/nonRetriableExitCodes/0"),
    ("exit-code-above-255", None, ("faultTolerance.nonRetriableExitCodes={2,256}",), "/faultTolerance/nonRetriableExitCodes/1"),
    ("exit-code-twice", {"faultTolerance": {"nonRetriableExitCodes": [3, 3]}}, (), "/faultTolerance/nonRetriableExitCodes"),
    ("exit-code-string", {"faultTolerance": {"nonRetriableExitCodes": ["2"]}}, (), "/faultTolerance/nonRetriableExitCodes/0"),
    ("collective-timeout-zero", {"faultTolerance": {"collectiveTimeoutSeconds": 0}}, (), "/faultTolerance/collectiveTimeoutSeconds"),
    ("heartbeat-timeout-zero", None, ("heartbeat.timeoutSeconds=0",), "/heartbeat/timeoutSeconds"),
    ("checkpoint-every-negative", None, ("checkpoint.everySteps=-5",), "/checkpoint/everySteps"),
    ("checkpoint-read-only-many", {"checkpoint": {"persistence": {"accessMode": "ReadOnlyMany"}}}, (),
     "/checkpoint/persistence/accessMode"),
    ("checkpoint-relative-mount-path", {"checkpoint": {"persistence": {"mountPath": "ckpt"}}}, (),
     "/checkpoint/persistence/mountPath"),
    ("checkpoint-garbage-size", {"checkpoint": {"persistence": {"size": "lots"}}}, (), "/checkpoint/persistence/size"),
    ("checkpoint-keep-type", {"checkpoint": {"persistence": {"keep": "yes"}}}, (), "/checkpoint/persistence/keep"),
]


@pytest.mark.parametrize("values,sets,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_should_reject_bad_values_naming_the_key(render_error, values, sets, expected):
    message = render_error(values, *sets)
    assert expected in message, message


# --- the documentation of every value comes from values.yaml --------------------------------

LEAVES = leaves(yaml.safe_load(VALUES_TEXT))


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


def generator():
    spec = importlib.util.spec_from_file_location("values_schema", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_should_describe_every_key_in_the_schema_with_type_and_default(path):
    node = schema_node(path)
    assert node.get("description") and ("type" in node or "oneOf" in node or "$ref" in node)
    assert node["default"] == LEAVES[path]


def test_should_validate_the_default_values_against_the_schema():
    jsonschema.Draft7Validator(SCHEMA).validate(yaml.safe_load(VALUES_TEXT))


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
