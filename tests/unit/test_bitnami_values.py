"""Values files written for the Bitnami PyTorch chart install here (render and pass the Kubernetes
schemas) in both modes: the 2.x defaults, whose keys this chart keeps, and the 4.x defaults, whose
keys templates/_compat.tpl reads. Each renamed 4.x key renders as this chart's key does; each 4.x
key with no equivalent is refused in one line that says what to use instead, and accepted at the
value that means what this chart does anyway; a 4.x key and this chart's key that disagree are
refused naming both. Level: render. See docs/values-compat.md."""
from __future__ import annotations

import re

import pytest
import yaml

from harness.presets import GIT, PERMISSIONS, leaves, merge, nested
from harness.render import render
from harness.tools import CHART

DATA = CHART / "tests" / "data" / "bitnami"
V2 = yaml.safe_load((DATA / "values-2.x.yaml").read_text())
V4 = yaml.safe_load((DATA / "values-4.x.yaml").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
COMPAT = (CHART / "templates" / "_compat.tpl").read_text()
DOCS = (CHART / "docs" / "values-compat.md").read_text()
PARAMETERS = [line for line in (CHART / "tests" / "data" / "seed-parameters.txt").read_text().splitlines()
              if line and not line.startswith("#")]
# Bitnami's `small` preset (the 4.x default resourcesPreset) and `nano` (volumePermissions').
SMALL = {"requests": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "50Mi"},
         "limits": {"cpu": "750m", "memory": "768Mi", "ephemeral-storage": "1024Mi"}}
NANO = {"requests": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "50Mi"},
        "limits": {"cpu": "150m", "memory": "192Mi", "ephemeral-storage": "1024Mi"}}


def at(values: dict, key: str):
    for part in key.split("."):
        values = values[part]
    return values


def has(values: dict, key: str) -> bool:
    try:
        at(values, key)
    except (KeyError, TypeError):
        return False
    return True


def refusals(message: str) -> list[str]:
    """The lines of the chart's refusal (`values are not valid:` then one `  - ` line each)."""
    assert "values are not valid:" in message, message
    return re.findall(r"^  - (.*)$", message.split("values are not valid:", 1)[1], re.M)


# --- the files -------------------------------------------------------------------------------

def test_should_hold_every_parameter_of_the_bitnami_2x_table_in_its_defaults_file():
    missing = [key for key in PARAMETERS if not has(V2, key)]
    assert missing == []
    assert [k for k in PARAMETERS if at(V2, k) is None] == [
        "global.imageRegistry", "global.storageClass", "nameOverride", "fullnameOverride",
        "volumePermissions.resources", "entrypoint.args", "worldSize", "configMap",
        "cloneFilesFromGit.repository", "extraEnvVars", "persistence.storageClass"]


def test_should_document_every_bitnami_4x_key_this_chart_lacks():
    """Each key of the 4.x file that values.yaml does not have is a row of docs/values-compat.md's
    table, and so is each 4.x key whose default differs from this chart's in meaning."""
    lacking = [key for key in leaves(V4) if not has(VALUES, key)]
    assert len(leaves(V4)) == 146 and len(lacking) == 46
    rows = {name for cell in re.findall(r"^\| (`[^|]+)\|", DOCS, re.M) for name in re.findall(r"`([^`]+)`", cell)}
    assert set(lacking) - rows == set()
    assert {"pdb.minAvailable", "pdb.maxUnavailable", "terminationGracePeriodSeconds",
            "cloneFilesFromGit.revision", "startupProbe.enabled"} <= rows


FILES = {
    "2.x-standalone": (V2, "Deployment", 1),
    "2.x-distributed": (merge(V2, {"mode": "distributed", "worldSize": 5}), "StatefulSet", 5),
    "4.x-standalone": (V4, "Deployment", 1),
    "4.x-distributed": (merge(V4, {"architecture": "distributed", "worldSize": 5}), "StatefulSet", 5),
}


@pytest.mark.parametrize("name", FILES)
def test_should_install_each_bitnami_defaults_file_in_each_mode(name):
    values, kind, ranks = FILES[name]
    manifests = render(values)    # every object passes the Kubernetes schemas
    workload = manifests.workload()
    assert (workload["kind"], workload["spec"]["replicas"]) == (kind, ranks)
    assert manifests.env()["WORLD_SIZE"] == str(ranks)
    assert manifests.env()["MASTER_PORT"] == "49875"
    assert manifests.container()["ports"][0]["containerPort"] == 49875
    assert manifests.mounts()["/bitnami/pytorch"] == {"name": "data", "mountPath": "/bitnami/pytorch"}
    assert ("PodDisruptionBudget" in manifests.kinds()) == (ranks > 1)


def test_should_install_the_bitnami_2x_defaults_with_their_probes_and_no_resources():
    manifests = render(V2)
    assert manifests.container()["image"] == "docker.io/bitnami/pytorch:1.7.1-debian-10-r0"
    assert manifests.container()["readinessProbe"]["timeoutSeconds"] == 1
    assert "resources" not in manifests.container() and "startupProbe" not in manifests.container()


def test_should_install_the_bitnami_4x_defaults_as_that_chart_renders_them():
    """Its small resource preset, its startup probe, fsGroupChangePolicy Always, and the user and
    group it sets on the container as well as on the pod."""
    manifests = render(V4)
    container = manifests.container()
    assert container["image"] == "docker.io/bitnami/pytorch:2.3.0-debian-12-r2"
    assert container["resources"] == SMALL
    assert manifests.env()["OMP_NUM_THREADS"] == "1"     # the 750m CPU limit, at least 1
    assert container["startupProbe"]["timeoutSeconds"] == 20
    assert container["livenessProbe"]["timeoutSeconds"] == 20
    assert manifests.pod_spec()["securityContext"]["fsGroupChangePolicy"] == "Always"
    assert (container["securityContext"]["runAsUser"], container["securityContext"]["runAsGroup"]) == (1001, 1001)
    assert container["securityContext"]["privileged"] is False and "seLinuxOptions" not in container["securityContext"]
    assert "terminationGracePeriodSeconds" not in manifests.pod_spec()
    assert manifests.pod_spec()["automountServiceAccountToken"] is False


# --- renamed keys: the 4.x key alone renders as this chart's key --------------------------------

# (id, the 4.x values, this chart's values); each with a value that is not the default.
RENAMED = [
    ("architecture", {"architecture": "distributed", "worldSize": 3}, {"mode": "distributed", "worldSize": 3}),
    ("containerPorts.pytorch", {"containerPorts": {"pytorch": 29600}}, {"port": 29600}),
    ("existingConfigmap", {"existingConfigmap": "my-files"}, {"configMap": "my-files"}),
    ("podSecurityContext.enabled", {"podSecurityContext": {"enabled": False}}, {"securityContext": {"enabled": False}}),
    ("podSecurityContext.fsGroup", {"podSecurityContext": {"fsGroup": 2000}}, {"securityContext": {"fsGroup": 2000}}),
    ("podSecurityContext.fsGroupChangePolicy", {"podSecurityContext": {"fsGroupChangePolicy": "Always"}},
     {"securityContext": {"fsGroupChangePolicy": "Always"}}),
    ("persistence.accessModes", {"persistence": {"accessModes": ["ReadWriteMany"]}},
     {"persistence": {"accessMode": "ReadWriteMany"}}),
    ("automountServiceAccountToken", {"automountServiceAccountToken": True},
     {"serviceAccount": {"automountServiceAccountToken": True}}),
    ("resourcesPreset", {"resourcesPreset": "small"}, {"resources": SMALL}),
    ("volumePermissions.resourcesPreset", merge(PERMISSIONS, {"volumePermissions": {"resourcesPreset": "nano"}}),
     merge(PERMISSIONS, {"volumePermissions": {"resources": NANO}})),
    ("service.ports.pytorch", {"service": {"ports": {"pytorch": 29600}}, "port": 29600}, {"port": 29600}),
    ("distributed-with-both-spellings", {"architecture": "distributed", "mode": "distributed", "worldSize": 3},
     {"mode": "distributed", "worldSize": 3}),
]


@pytest.mark.parametrize("bitnami,ours", [c[1:] for c in RENAMED], ids=[c[0] for c in RENAMED])
def test_should_render_a_renamed_bitnami_4x_key_as_this_charts_key(bitnami, ours):
    assert render(bitnami).objects == render(ours).objects != render().objects


def test_should_take_the_resources_over_the_preset_as_bitnami_4x_does():
    resources = {"limits": {"cpu": "2", "memory": "4Gi"}}
    assert render({"resourcesPreset": "large", "resources": resources}).container()["resources"] == resources


# --- 4.x keys with no equivalent: accepted at the value that means what this chart does ----------

# (key, a value this chart does anyway): each alone renders as the defaults do.
ACCEPTED = [
    ("resourcesPreset", "none"), ("volumePermissions.resourcesPreset", "none"),
    ("global.compatibility.openshift.adaptSecurityContext", "auto"),
    ("global.compatibility.openshift.adaptSecurityContext", "disabled"),
    ("kubeVersion", ""), ("extraDeploy", []),
    ("diagnosticMode", {"enabled": False, "command": ["sleep"], "args": ["infinity"]}),
    ("command", []), ("args", []), ("lifecycleHooks", {}), ("extraEnvVarsCM", ""), ("extraEnvVarsSecret", ""),
    ("sidecars", []), ("initContainers", []), ("updateStrategy.type", "RollingUpdate"),
    ("podManagementPolicy", "OrderedReady"), ("podManagementPolicy", "Parallel"),
    ("podSecurityContext.sysctls", []), ("podSecurityContext.supplementalGroups", []),
    ("service.ports.pytorch", 49875), ("service.nodePorts.pytorch", ""), ("service.clusterIP", ""),
    ("service.loadBalancerIP", ""), ("service.loadBalancerSourceRanges", []),
    ("service.externalTrafficPolicy", "Cluster"), ("service.extraPorts", []), ("service.sessionAffinity", "None"),
    ("service.sessionAffinityConfig", {}), ("service.headless.annotations", {}),
    ("networkPolicy.ingressNSMatchLabels", {}), ("networkPolicy.ingressNSPodMatchLabels", {}),
    ("persistence.subPath", ""), ("persistence.selector", {}), ("persistence.dataSource", {}),
    ("cloneFilesFromGit.revision", ""), ("terminationGracePeriodSeconds", ""),
    ("containerSecurityContext.seLinuxOptions", None),
]


@pytest.mark.parametrize("key,value", ACCEPTED, ids=[f"{k}={v!r}" for k, v in ACCEPTED])
def test_should_render_a_bitnami_4x_key_at_a_value_that_means_this_charts_default_as_the_defaults(key, value):
    assert render(nested(key, value)).objects == render().objects


# --- 4.x keys with no equivalent: refused in one line that says what to use instead --------------

# (id, values, the one line of the refusal)
REFUSED = [
    ("kubeVersion", {"kubeVersion": "1.30.0"},
     "kubeVersion: this chart reads the cluster's Kubernetes version; use helm's --kube-version flag instead"),
    ("extraDeploy", {"extraDeploy": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}]},
     "extraDeploy: this chart deploys no objects of yours; apply them with kubectl, or from a chart of your own "
     "that depends on this one"),
    ("diagnosticMode.enabled", {"diagnosticMode": {"enabled": True}},
     'diagnosticMode.enabled: use entrypoint.file="" (the container then runs sleep infinity) with '
     "livenessProbe.enabled=false and readinessProbe.enabled=false"),
    ("command", {"command": ["/bin/bash"]},
     "command: use entrypoint.file and entrypoint.args (the chart builds the command: python, or torchrun with "
     "launcher=torchrun)"),
    ("args", {"args": ["train.py"]}, "args: use entrypoint.args"),
    ("lifecycleHooks", {"lifecycleHooks": {"preStop": {"exec": {"command": ["true"]}}}},
     "lifecycleHooks: this chart sets no container lifecycle hooks; handle SIGTERM in the script "
     "(terminationGracePeriodSeconds gives it time to save a checkpoint)"),
    ("extraEnvVarsCM", {"extraEnvVarsCM": "env"},
     "extraEnvVarsCM: use extraEnvVars items with valueFrom.configMapKeyRef, one per variable"),
    ("extraEnvVarsSecret", {"extraEnvVarsSecret": "env"},
     "extraEnvVarsSecret: use extraEnvVars items with valueFrom.secretKeyRef, one per variable"),
    ("sidecars", {"sidecars": [{"name": "s", "image": "busybox"}]},
     "sidecars: this chart runs no containers of yours beside PyTorch (TensorBoard: tensorboard.enabled=true); "
     "leave it empty"),
    ("initContainers", {"initContainers": [{"name": "i", "image": "busybox"}]},
     "initContainers: load files with configMap or cloneFilesFromGit, and fix the data volume's owner with "
     "volumePermissions.enabled=true"),
    ("podSecurityContext.sysctls", {"podSecurityContext": {"sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]}},
     "podSecurityContext.sysctls: this chart sets no pod sysctls; set them on the nodes instead"),
    ("podSecurityContext.supplementalGroups", {"podSecurityContext": {"supplementalGroups": [2000]}},
     "podSecurityContext.supplementalGroups: this chart gives the pods one group, securityContext.fsGroup "
     "(it owns the mounted volumes); use it instead"),
    ("service.nodePorts.pytorch", {"service": {"type": "NodePort", "nodePorts": {"pytorch": 30080}}},
     "service.nodePorts.pytorch: Kubernetes picks the node port of this chart's Services; leave it empty"),
    ("service.clusterIP", {"service": {"clusterIP": "10.0.0.10"}},
     "service.clusterIP: Kubernetes assigns the Service's address; leave it empty"),
    ("service.loadBalancerIP", {"service": {"loadBalancerIP": "203.0.113.7"}},
     "service.loadBalancerIP: ask your cloud for the address with service.annotations instead"),
    ("service.loadBalancerSourceRanges", {"service": {"loadBalancerSourceRanges": ["10.0.0.0/8"]}},
     "service.loadBalancerSourceRanges: restrict clients with networkPolicy.allowExternal=false and "
     "networkPolicy.extraIngress instead"),
    ("service.extraPorts", {"service": {"extraPorts": [{"name": "x", "port": 8080}]}},
     "service.extraPorts: the master Service exposes the master port only (metrics: metrics.enabled, "
     "TensorBoard: tensorboard.service); leave it empty"),
    ("service.sessionAffinityConfig", {"service": {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 300}}}},
     "service.sessionAffinityConfig: the master Service selects one pod, so affinity changes nothing; leave it empty"),
    ("service.headless.annotations", {"service": {"headless": {"annotations": {"a": "b"}}}},
     "service.headless.annotations: use commonAnnotations (the headless Service carries those)"),
    ("networkPolicy.ingressNSMatchLabels", {"networkPolicy": {"ingressNSMatchLabels": {"team": "ml"}}},
     "networkPolicy.ingressNSMatchLabels: use networkPolicy.extraIngress with a from: namespaceSelector rule"),
    ("networkPolicy.ingressNSPodMatchLabels", {"networkPolicy": {"ingressNSPodMatchLabels": {"role": "client"}}},
     "networkPolicy.ingressNSPodMatchLabels: use networkPolicy.extraIngress with a from: namespaceSelector and "
     "podSelector rule"),
    ("persistence.subPath", {"persistence": {"subPath": "run1"}},
     "persistence.subPath: mount the claim yourself with extraVolumes and extraVolumeMounts (subPath), with "
     "persistence.enabled=false"),
    ("persistence.selector", {"persistence": {"selector": {"matchLabels": {"a": "b"}}}},
     "persistence.selector: create the claim yourself and set persistence.existingClaim"),
    ("persistence.dataSource", {"persistence": {"dataSource": {"kind": "VolumeSnapshot", "name": "s"}}},
     "persistence.dataSource: create the claim yourself and set persistence.existingClaim"),
    ("persistence.accessModes-two", {"persistence": {"accessModes": ["ReadWriteOnce", "ReadWriteMany"]}},
     "persistence.accessModes: this chart's claims take one access mode; set persistence.accessMode"),
    ("updateStrategy.type", {"updateStrategy": {"type": "OnDelete"}},
     "updateStrategy.type: the chart picks the update strategy (RollingUpdate; Recreate for a standalone Deployment "
     "with a ReadWriteOnce claim); leave it RollingUpdate"),
    ("service.externalTrafficPolicy", {"service": {"type": "LoadBalancer", "externalTrafficPolicy": "Local"}},
     "service.externalTrafficPolicy: this chart keeps Kubernetes' default, Cluster; leave it Cluster"),
    ("service.sessionAffinity", {"service": {"sessionAffinity": "ClientIP"}},
     "service.sessionAffinity: the master Service selects one pod, so affinity changes nothing; leave it None"),
    ("global.compatibility.openshift.adaptSecurityContext-force",
     {"global": {"compatibility": {"openshift": {"adaptSecurityContext": "force"}}}},
     "global.compatibility.openshift.adaptSecurityContext: this chart does not adapt its security context to "
     "OpenShift; set securityContext.enabled=false (restricted-v2 then assigns the IDs) and this key to disabled"),
    ("architecture-without-worldSize", {"architecture": "distributed"},
     "architecture: distributed needs worldSize (the number of ranks, e.g. --set worldSize=4)"),
    ("cloneFilesFromGit.revision", merge(GIT, {"cloneFilesFromGit": {"revision": ""}}),
     "cloneFilesFromGit.revision: empty; name the branch, tag or commit to check out (e.g. main)"),
]


@pytest.mark.parametrize("values,line", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_should_refuse_a_bitnami_4x_key_without_equivalent_in_one_line(render_error, values, line):
    assert refusals(render_error(values)) == [line]


def test_should_refuse_adapting_to_openshift_where_the_cluster_is_openshift(render_error):
    values = {"global": {"compatibility": {"openshift": {"adaptSecurityContext": "auto"}}}}
    message = render_error(values, args=("--api-versions", "security.openshift.io/v1"))
    assert refusals(message) == [dict((c[0], c[2]) for c in REFUSED)["global.compatibility.openshift.adaptSecurityContext-force"]]


def test_should_refuse_every_key_of_a_bitnami_4x_file_that_needs_it_at_once(render_error):
    values = merge(V4, {"sidecars": [{"name": "s", "image": "busybox"}], "command": ["/bin/bash"]})
    assert [line.split(":")[0] for line in refusals(render_error(values))] == ["command", "sidecars"]


def test_should_have_a_case_for_every_refusal_of_the_template():
    refused = re.findall(r'^  \(list "([^"]+)" ', COMPAT.split("$refused := list", 1)[1].split("-}}", 1)[0], re.M)
    appended = re.findall(r'append \$errors "([^":]+):', COMPAT)
    cased = {line.split(":")[0] for _, _, line in REFUSED}
    assert len(refused) == 24 and len(appended) == 7
    assert set(refused) | set(appended) == cased


# --- a 4.x key and this chart's key that disagree: refused naming both ----------------------------

DISAGREE = [
    ("architecture", {"architecture": "standalone", "mode": "distributed", "worldSize": 2},
     "architecture and mode: architecture=standalone but mode=distributed; set one of them "
     "(architecture is the Bitnami 4.x name of mode)"),
    ("containerPorts.pytorch", {"containerPorts": {"pytorch": 29600}, "port": 29500},
     "containerPorts.pytorch and port: containerPorts.pytorch=29600 but port=29500; set one of them "
     "(containerPorts.pytorch is the Bitnami 4.x name of port)"),
    ("existingConfigmap", {"existingConfigmap": "a", "configMap": "b"},
     "existingConfigmap and configMap: existingConfigmap=a but configMap=b; set one of them "
     "(existingConfigmap is the Bitnami 4.x name of configMap)"),
    ("podSecurityContext.enabled", {"podSecurityContext": {"enabled": True}, "securityContext": {"enabled": False}},
     "podSecurityContext.enabled and securityContext.enabled: podSecurityContext.enabled=true but "
     "securityContext.enabled=false; set one of them (podSecurityContext.enabled is the Bitnami 4.x name of "
     "securityContext.enabled)"),
    ("podSecurityContext.fsGroup", {"podSecurityContext": {"fsGroup": 2000}, "securityContext": {"fsGroup": 3000}},
     "podSecurityContext.fsGroup and securityContext.fsGroup: podSecurityContext.fsGroup=2000 but "
     "securityContext.fsGroup=3000; set one of them (podSecurityContext.fsGroup is the Bitnami 4.x name of "
     "securityContext.fsGroup)"),
    ("podSecurityContext.fsGroupChangePolicy",
     {"podSecurityContext": {"fsGroupChangePolicy": "OnRootMismatch"}, "securityContext": {"fsGroupChangePolicy": "Always"}},
     "podSecurityContext.fsGroupChangePolicy and securityContext.fsGroupChangePolicy: "
     "podSecurityContext.fsGroupChangePolicy=OnRootMismatch but securityContext.fsGroupChangePolicy=Always; set one "
     "of them (podSecurityContext.fsGroupChangePolicy is the Bitnami 4.x name of securityContext.fsGroupChangePolicy)"),
    ("persistence.accessModes", {"persistence": {"accessModes": ["ReadWriteMany"], "accessMode": "ReadWriteOncePod"}},
     "persistence.accessModes and persistence.accessMode: persistence.accessModes=[ReadWriteMany] but "
     "persistence.accessMode=ReadWriteOncePod; set one of them (persistence.accessModes is the Bitnami 4.x name of "
     "persistence.accessMode)"),
    ("automountServiceAccountToken",
     {"automountServiceAccountToken": False, "serviceAccount": {"automountServiceAccountToken": True}},
     "automountServiceAccountToken and serviceAccount.automountServiceAccountToken: automountServiceAccountToken=false "
     "but serviceAccount.automountServiceAccountToken=true; set one of them (automountServiceAccountToken is the "
     "Bitnami 4.x name of serviceAccount.automountServiceAccountToken)"),
    ("service.ports.pytorch", merge(V4, {"containerPorts": {"pytorch": 29600}}),
     "service.ports.pytorch and port: the Service port 49875 is not the master port 29600; this chart's Services "
     "listen on the master port (port, or containerPorts.pytorch): set both to one number"),
]


@pytest.mark.parametrize("values,line", [c[1:] for c in DISAGREE], ids=[c[0] for c in DISAGREE])
def test_should_refuse_a_bitnami_4x_key_and_this_charts_key_that_disagree_naming_both(render_error, values, line):
    [refusal] = refusals(render_error(values))
    assert refusal == line
    old, new = line.split(":")[0].split(" and ")
    assert old in refusal and new in refusal


def test_should_have_a_disagreement_case_for_every_renamed_key():
    renamed = re.findall(r'^  \(list "([^"]+)" "[^"]+" ', COMPAT.split("$renames := list", 1)[1].split("-}}", 1)[0], re.M)
    assert len(renamed) == 8
    assert set(renamed) | {"service.ports.pytorch"} == {c[0] for c in DISAGREE}
    assert set(renamed) <= {c[0] for c in RENAMED}
