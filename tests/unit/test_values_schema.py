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

from harness.presets import CODE, GIT, PERMISSIONS, distributed, leaves, merge
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


# --- every bound and every enum of the schema, at its edges ------------------------------------
# The tables below are written out, not read from the schema: a bound dropped or moved, or an
# enum value added or removed, fails the comparison with the schema before anything else. The
# sweeps then check each bound at its edge (the value at the bound accepted, the next one past it
# refused at its key) and render each enum value the schema allows (so that a value the templates
# do not handle shows up as a render that equals another value's, or as an error).

DEFAULTS = yaml.safe_load(VALUES_TEXT)
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
# A key of a map whose values the schema describes by pattern (resources.limits.*).
SAMPLE_KEY = "cpu"
MAX_INT32 = 2147483647

EXPECTED_BOUNDS = {
    **{f"{image}.tag": {"minimum": 0} for image in ("image", "git", "volumePermissions.image", "tensorboard.image")},
    "worldSize": {"minimum": 1, "maximum": 10000},
    "port": {"minimum": 1, "maximum": 65535},
    "resources.limits.*": {"minimum": 0},
    "resources.requests.*": {"minimum": 0},
    "securityContext.fsGroup": {"minimum": 0, "maximum": MAX_INT32},
    "securityContext.runAsUser": {"minimum": 0, "maximum": MAX_INT32},
    "securityContext.runAsGroup": {"minimum": 0, "maximum": MAX_INT32},
    "containerSecurityContext.runAsUser": {"minimum": 0, "maximum": MAX_INT32},
    "containerSecurityContext.runAsGroup": {"minimum": 0, "maximum": MAX_INT32},
    **{f"{probe}.{field}": {"minimum": low, "maximum": MAX_INT32}
       for probe in ("livenessProbe", "readinessProbe", "startupProbe")
       for field, low in (("initialDelaySeconds", 0), ("periodSeconds", 1), ("timeoutSeconds", 1),
                          ("successThreshold", 1), ("failureThreshold", 1))},
    "livenessProbe.successThreshold": {"minimum": 1, "maximum": 1},   # the API server's rule for liveness
    "startupProbe.successThreshold": {"minimum": 1, "maximum": 1},    # and for startup
    # Bitnami 4.x keys (templates/_compat.tpl)
    "containerPorts.pytorch": {"minimum": 1, "maximum": 65535},
    "service.ports.pytorch": {"minimum": 1, "maximum": 65535},
    "podSecurityContext.fsGroup": {"minimum": 0, "maximum": MAX_INT32},
    "shm.sizeLimit": {"minimum": 0},
    "torchrun.nprocPerNode": {"minimum": 0, "maximum": 1024},
    "threadsPerProcess": {"minimum": 0, "maximum": 1024},
    "gpu.count": {"minimum": 0, "maximum": 1024},
    "job.backoffLimit": {"minimum": 0, "maximum": MAX_INT32},
    "job.activeDeadlineSeconds": {"minimum": 1},
    "job.ttlSecondsAfterFinished": {"minimum": 0, "maximum": MAX_INT32},
    "faultTolerance.maxRestarts": {"minimum": 0},
    "faultTolerance.minNodes": {"minimum": 0},
    "faultTolerance.maxNodes": {"minimum": 0, "maximum": 10000},
    "faultTolerance.nonRetriableExitCodes[]": {"minimum": 1, "maximum": 255},
    "faultTolerance.collectiveTimeoutSeconds": {"minimum": 1},
    "heartbeat.timeoutSeconds": {"minimum": 1},
    "checkpoint.everySteps": {"minimum": 0},
    "checkpoint.persistence.size": {"minimum": 0},
    "persistence.size": {"exclusiveMinimum": 0},
    "volumePermissions.resources.limits.*": {"minimum": 0},
    "volumePermissions.resources.requests.*": {"minimum": 0},
    "terminationGracePeriodSeconds": {"minimum": 0},
    "pdb.minAvailable": {"minimum": 0, "maximum": MAX_INT32},
    "pdb.maxUnavailable": {"minimum": 0, "maximum": MAX_INT32},
    "kueue.topology.sliceSize": {"minimum": 1},
    "gangScheduling.coscheduling.scheduleTimeoutSeconds": {"minimum": 1},
    "metrics.port": {"minimum": 1, "maximum": 65535},
    "tensorboard.port": {"minimum": 1, "maximum": 65535},
    "tensorboard.resources.limits.*": {"minimum": 0},
    "tensorboard.resources.requests.*": {"minimum": 0},
}

PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
PRESETS = ["", "soft", "hard"]
SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"]
RETENTION = ["Retain", "Delete"]
RESOURCES_PRESETS = ["none", "nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"]
EXPECTED_ENUMS = {
    "containerSecurityContext.procMount": ["Default"],
    "image.pullPolicy": PULL_POLICIES,
    "mode": ["standalone", "distributed"],
    "git.pullPolicy": PULL_POLICIES,
    "volumePermissions.image.pullPolicy": PULL_POLICIES,
    "podAffinityPreset": PRESETS,
    "podAntiAffinityPreset": PRESETS,
    "nodeAffinityPreset.type": PRESETS,
    "securityContext.fsGroupChangePolicy": ["OnRootMismatch", "Always"],
    "containerSecurityContext.seccompProfile.type": ["RuntimeDefault", "Localhost", "Unconfined"],
    "launcher": ["python", "torchrun"],
    "checkpoint.persistence.accessMode": ["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"],
    "service.type": SERVICE_TYPES,
    "persistence.accessMode": ["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany", "ReadOnlyMany"],
    "persistentVolumeClaimRetentionPolicy.whenDeleted": RETENTION,
    "persistentVolumeClaimRetentionPolicy.whenScaled": RETENTION,
    "gangScheduling.provider": ["volcano", "coscheduling", "kubernetes"],
    "tensorboard.service.type": SERVICE_TYPES,
    "tensorboard.image.pullPolicy": PULL_POLICIES,
    # Bitnami 4.x keys (templates/_compat.tpl)
    "architecture": ["standalone", "distributed"],
    "podSecurityContext.fsGroupChangePolicy": ["OnRootMismatch", "Always"],
    "resourcesPreset": RESOURCES_PRESETS,
    "persistence.accessModes[]": ["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany", "ReadOnlyMany"],
    "volumePermissions.resourcesPreset": RESOURCES_PRESETS,
}
# What turns on the part of the chart that reads each enum (the default values do for the rest).
ENUM_CONTEXT = {
    "git.pullPolicy": GIT,
    "volumePermissions.image.pullPolicy": PERMISSIONS,
    "volumePermissions.resourcesPreset": PERMISSIONS,
    "nodeAffinityPreset.type": {"nodeAffinityPreset": {"key": "topology.kubernetes.io/zone", "values": ["zone-a"]}},
    "launcher": CODE,
    "checkpoint.persistence.accessMode": {"checkpoint": {"persistence": {"enabled": True}}},
    "persistentVolumeClaimRetentionPolicy.whenDeleted": distributed(5),
    "persistentVolumeClaimRetentionPolicy.whenScaled": distributed(5),
    "gangScheduling.provider": merge(distributed(5), {"gangScheduling": {"enabled": True, "force": True}}),
    "tensorboard.service.type": {"tensorboard": {"enabled": True}},
    "tensorboard.image.pullPolicy": {"tensorboard": {"enabled": True}},
}
# What one enum value needs besides (a Localhost seccomp profile names its file).
ENUM_VALUE_CONTEXT = {
    ("mode", "distributed"): {"worldSize": 5},
    ("architecture", "distributed"): {"worldSize": 5},
    ("containerSecurityContext.seccompProfile.type", "Localhost"):
        {"containerSecurityContext": {"seccompProfile": {"localhostProfile": "profiles/train.json"}}},
}


def schema_nodes(node: dict, path: str = "", found: dict | None = None) -> dict[str, list[dict]]:
    """Every value path of the schema (a list item written [], a pattern key *) with its
    schema nodes (the branches of a oneOf each count), definitions resolved."""
    found = {} if found is None else found
    if node.get("$ref", "").startswith("#/$defs/"):
        # A Kubernetes type passed into the pod spec as written: its enums and bounds are the
        # API server's, pinned by test_passthrough_schema.py, not the chart's own.
        found.setdefault(path, []).append({})
        return found
    node = resolve(node)
    found.setdefault(path, []).append(node)
    for name, child in node.get("properties", {}).items():
        schema_nodes(child, f"{path}.{name}" if path else name, found)
    if isinstance(node.get("items"), dict):
        schema_nodes(node["items"], path + "[]", found)
    for child in node.get("patternProperties", {}).values():
        schema_nodes(child, path + ".*", found)
    for child in node.get("oneOf", []) + node.get("anyOf", []):
        schema_nodes(child, path, found)
    return found


NODES = schema_nodes(SCHEMA)
BOUND_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def schema_bounds() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for path, nodes in NODES.items():
        for node in nodes:
            out.setdefault(path, {}).update({k: node[k] for k in BOUND_KEYWORDS if k in node})
    return {path: bounds for path, bounds in out.items() if bounds}


def schema_enums() -> dict[str, list]:
    return {path: node["enum"] for path, nodes in NODES.items() for node in nodes if "enum" in node}


def at(path: str, value) -> dict:
    """The values document that sets `path` (a list item: a one-item list; *: SAMPLE_KEY) to value."""
    out = value
    for part in reversed(path.split(".")):
        while part.endswith("[]"):
            part, out = part[:-2], [out]
        out = {SAMPLE_KEY if part == "*" else part: out}
    return out


def location(path: str) -> list:
    """jsonschema's absolute_path of the value at `path`, as at() places it."""
    out: list = []
    for part in path.split("."):
        items = 0
        while part.endswith("[]"):
            part, items = part[:-2], items + 1
        out += [SAMPLE_KEY if part == "*" else part] + [0] * items
    return out


def refused_at(path: str, value) -> bool:
    """Whether the schema refuses the default values with `path` set to value, at that key."""
    document = merge(DEFAULTS, at(path, value))
    return any(list(error.absolute_path) == location(path) for error in VALIDATOR.iter_errors(document))


def test_should_bound_exactly_the_values_listed():
    assert schema_bounds() == EXPECTED_BOUNDS


def edges() -> list[tuple[str, str, object, object]]:
    """(path, keyword, the value at the edge that is accepted, the nearest value refused)."""
    out = []
    for path, bounds in EXPECTED_BOUNDS.items():
        integer = any("integer" in (n.get("type") if isinstance(n.get("type"), list) else [n.get("type")])
                      for n in NODES.get(path, []) if any(k in n for k in BOUND_KEYWORDS))
        step = 1 if integer else 0.5
        for keyword, bound in bounds.items():
            accepted, refused = {"minimum": (bound, bound - step), "maximum": (bound, bound + step),
                                 "exclusiveMinimum": (bound + step, bound),
                                 "exclusiveMaximum": (bound - step, bound)}[keyword]
            out.append((path, keyword, accepted, refused))
    return out


@pytest.mark.parametrize("path,keyword,accepted,refused", edges(), ids=lambda v: str(v))
def test_should_accept_each_bound_and_refuse_the_value_past_it(path, keyword, accepted, refused):
    assert not refused_at(path, accepted), f"{path}={accepted} is refused ({keyword})"
    assert refused_at(path, refused), f"{path}={refused} is accepted ({keyword})"


def test_should_allow_exactly_the_enum_values_listed():
    assert schema_enums() == EXPECTED_ENUMS


@pytest.mark.parametrize("path", EXPECTED_ENUMS)
def test_should_refuse_a_value_outside_each_enum(path):
    assert refused_at(path, "Other")
    assert not any(refused_at(path, value) for value in EXPECTED_ENUMS[path])


@pytest.mark.parametrize("path", sorted(schema_enums()))
def test_should_render_each_value_of_an_enum_its_own_way(render, path):
    """Each value the schema allows renders, and differently from every other value of that
    enum: a value the templates do not handle renders as another one does (or fails)."""
    renders = {}
    for value in schema_enums()[path]:
        values = merge(ENUM_CONTEXT.get(path, {}), ENUM_VALUE_CONTEXT.get((path, value), {}), at(path, value))
        renders[value] = render(values).objects
    same = [(a, b) for a in renders for b in renders if a < b and renders[a] == renders[b]]
    assert same == []
