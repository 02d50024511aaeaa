"""values.yaml: every key is documented with a `## @param` line, keeps the name it had in the
seed chart, and changes what the chart renders."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from harness.presets import CODE, GIT, JOB, PERMISSIONS, TORCHRUN, distributed, leaves, merge, nested
from harness.tools import CHART

VALUES_TEXT = (CHART / "values.yaml").read_text()
VALUES = yaml.safe_load(VALUES_TEXT)
_SCHEMA = json.loads((CHART / "values.schema.json").read_text())["properties"]
# The success thresholds Kubernetes allows only 1 for.
ONLY_ONE = {f"{probe}.successThreshold": {k: _SCHEMA[probe]["properties"]["successThreshold"][k] for k in ("minimum", "maximum")}
            for probe in ("livenessProbe", "startupProbe")}


LEAVES = leaves(VALUES)


def test_should_document_every_key_with_a_param_line():
    documented = set(re.findall(r"^## @param (\S+)", VALUES_TEXT, re.M))
    assert documented == set(LEAVES), (set(LEAVES) - documented, documented - set(LEAVES))


def test_should_keep_every_parameter_of_the_seed_chart():
    lines = (CHART / "tests" / "data" / "seed-parameters.txt").read_text().splitlines()
    names = {line for line in lines if line and not line.startswith("#")}
    assert len(names) == 67  # the seed table has 67 rows
    ours = set(LEAVES) | {p.rsplit(".", 1)[0] for p in LEAVES}
    # the seed's securityContext/probe keys and image blocks all keep their names here
    assert names - ours == set(), names - ours


# --- every key changes what the chart renders -------------------------------------------

NODE = {"nodeAffinityPreset": {"type": "hard", "key": "k", "values": ["v"]}}
CONTEXT = {  # the values a key needs around it to have an effect
    "git.": GIT, "cloneFilesFromGit.existingSecret": GIT, "cloneFilesFromGit.repository": GIT, "cloneFilesFromGit.revision": GIT,
    "cloneFilesFromGit.extraVolumeMounts": {**GIT, "extraVolumes": [{"name": "k", "emptyDir": {}}]},
    "volumePermissions.image.": PERMISSIONS, "volumePermissions.resources": PERMISSIONS,
    "nodeAffinityPreset.key": NODE, "nodeAffinityPreset.values": NODE,
    "nodeAffinityPreset.type": {"nodeAffinityPreset": {"key": "k", "values": ["v"]}},
    "gpu.resourceName": {"gpu": {"count": 1}},
    "worldSize": distributed(2), "mode": {"worldSize": 1}, "clusterDomain": distributed(2),
    "entrypoint.args": CODE,
    "cloneFilesFromGit.enabled": {"cloneFilesFromGit": {"repository": "https://h/r.git"}},
    "extraVolumeMounts": {"extraVolumes": [{"name": "k", "emptyDir": {}}]},
    "launcher": CODE,
    "torchrun.": merge(CODE, TORCHRUN),
    "persistentVolumeClaimRetentionPolicy.": distributed(2), "pdb.": distributed(2), "headlessService.": distributed(2),
    "job.": merge(CODE, JOB),
    "job.enabled": CODE,
    "exclusiveTopology.topologyKey": {"exclusiveTopology": {"enabled": True}},
    "kueue.topology.sliceRequired": {"kueue": {"topology": {"sliceRequired": "block", "sliceSize": 2}}},
    "kueue.topology.sliceSize": {"kueue": {"topology": {"sliceRequired": "rack", "sliceSize": 4}}},
    "gangScheduling.": {**distributed(2), "gangScheduling": {"enabled": True, "force": True}},
    "gangScheduling.enabled": {**distributed(2), "gangScheduling": {"force": True}},
    "gangScheduling.force": {**distributed(2), "gangScheduling": {"enabled": True}},
    "gangScheduling.coscheduling.": {**distributed(2), "gangScheduling": {"enabled": True, "force": True, "provider": "coscheduling"}},
    "networkPolicy.extraEgress": {"networkPolicy": {"allowExternalEgress": False}},
    "metrics.": {"metrics": {"enabled": True, "podMonitor": {"enabled": True}}},
    "metrics.enabled": {},
    "metrics.podMonitor.enabled": {"metrics": {"enabled": True}},
    "tensorboard.": {"tensorboard": {"enabled": True}},
    "tensorboard.enabled": {},
    "faultTolerance.": merge(CODE, {"faultTolerance": {"enabled": True}}),
    "faultTolerance.enabled": CODE,
    "faultTolerance.minNodes": merge(CODE, TORCHRUN, distributed(4), {"faultTolerance": {"enabled": True}}),
    "faultTolerance.maxNodes": merge(CODE, TORCHRUN, distributed(4), {"faultTolerance": {"enabled": True}}),
    "startupProbe.": {"startupProbe": {"enabled": True}},
    "startupProbe.enabled": {},
    "heartbeat.": {"heartbeat": {"enabled": True}},
    "heartbeat.enabled": {},
    "checkpoint.persistence.": {"checkpoint": {"persistence": {"enabled": True}}},
    "checkpoint.persistence.enabled": {},
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
    "configMap": "code", "cloneFilesFromGit.repository": "https://other/r.git", "cloneFilesFromGit.revision": "v1", "cloneFilesFromGit.existingSecret": "creds",
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
    "startupProbe.successThreshold": None,  # the same
    "customLivenessProbe": {"tcpSocket": {"port": 1}}, "customReadinessProbe": {"tcpSocket": {"port": 1}},
    "customStartupProbe": {"tcpSocket": {"port": 1}},
    "shm.sizeLimit": "2Gi", "extraVolumes": [{"name": "e", "emptyDir": {}}],
    "extraVolumeMounts": [{"name": "k", "mountPath": "/k"}],
    "service.type": "NodePort", "service.annotations": {"a": "b"},
    "serviceAccount.name": "sa", "serviceAccount.annotations": {"a": "b"},
    "persistence.existingClaim": "claim", "persistence.mountPath": "/ckpt", "persistence.storageClass": "fast",
    "persistence.accessMode": "ReadWriteMany",
    "persistentVolumeClaimRetentionPolicy.whenDeleted": "Delete", "persistentVolumeClaimRetentionPolicy.whenScaled": "Delete",
    "pdb.minAvailable": "50%", "pdb.maxUnavailable": 1,
    "launcher": "torchrun", "torchrun.extraArgs": ["--max-restarts=1"], "gpu.resourceName": "amd.com/gpu",
    "torchEnv": {"NCCL_DEBUG": "WARN"}, "job.activeDeadlineSeconds": 60, "job.ttlSecondsAfterFinished": 60,
    "job.podFailurePolicy.rules": [], "torchrun.nprocPerNode": 3, "threadsPerProcess": 5, "persistence.size": "1Gi", "persistence.annotations": {"a": "b"},
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
    "faultTolerance.minNodes": 2, "faultTolerance.maxNodes": 6, "faultTolerance.nonRetriableExitCodes": [2, 3],
    "checkpoint.persistence.existingClaim": "ckpt", "checkpoint.persistence.mountPath": "/ckpt",
    "checkpoint.persistence.storageClass": "fast", "checkpoint.persistence.accessMode": "ReadWriteOnce",
    "checkpoint.persistence.size": "1Gi", "checkpoint.persistence.annotations": {"a": "b"},
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


def context_for(path: str) -> dict:
    if path in CONTEXT:
        return CONTEXT[path]
    found = [ctx for prefix, ctx in CONTEXT.items() if path == prefix or (prefix.endswith(".") and path.startswith(prefix))]
    return merge(*found) if found else {}


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_should_change_the_render_for_every_value(render, path):
    new = changed_value(path, LEAVES[path])
    if new is None:
        assert path in ("livenessProbe.successThreshold", "startupProbe.successThreshold")
        assert ONLY_ONE[path] == {"minimum": 1, "maximum": 1}
        return
    base = context_for(path)
    args = next((a for prefix, a in CAPABILITIES.items() if path.startswith(prefix)), ())
    before = render(base, show_tests=True, args=args).text
    after = render(merge(base, nested(path, new)), show_tests=True, args=args).text
    assert before != after, f"setting {path}={new!r} changed nothing"
