"""The values the chart passes into the pod spec as Kubernetes objects (tolerations, affinity,
topology spread, extra volumes, mounts and env, node selector, the container security context)
are checked by values.schema.json's `$defs`, which hack/k8s-defs.py derives from the Kubernetes
types: what the API server would refuse fails `helm template` naming the key (render level;
`make fuzz` checks the same against the API server, docs/fuzz.md)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from harness.render import RELEASE, render, render_error
from harness.tools import CHART

# (id, values, text the error must contain): each one the API server refuses (found by make fuzz).
CASES = [
    ("toleration-unknown-field", {"tolerations": [{"key": "a", "operator": "Exists", "bogusField": "x"}]},
     "/tolerations/0"),
    ("toleration-exists-with-value", {"tolerations": [{"key": "a", "operator": "Exists", "value": "b"}]},
     "/tolerations/0/value"),
    ("toleration-seconds-without-no-execute", {"tolerations": [{"key": "a", "operator": "Exists",
                                                                 "effect": "NoSchedule", "tolerationSeconds": 30}]},
     "/tolerations/0/effect"),
    ("toleration-effect-enum", {"tolerations": [{"key": "a", "operator": "Exists", "effect": "NoSchedul"}]},
     "/tolerations/0/effect"),
    ("affinity-unknown-field", {"affinity": {"bogusField": "x"}}, "/affinity"),
    ("affinity-weight-zero", {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 0, "preference": {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}}]}}},
     "/affinity/nodeAffinity/preferredDuringSchedulingIgnoredDuringExecution/0/weight"),
    ("affinity-in-without-values", {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In"}]}]}}}},
     "/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchExpressions/0"),
    ("spread-unknown-field", {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                                                             "whenUnsatisfiable": "DoNotSchedule", "bogusField": 1}]},
     "/topologySpreadConstraints/0"),
    ("spread-skew-zero", {"topologySpreadConstraints": [{"maxSkew": 0, "topologyKey": "zone",
                                                         "whenUnsatisfiable": "DoNotSchedule"}]},
     "/topologySpreadConstraints/0/maxSkew"),
    ("volume-two-sources", {"extraVolumes": [{"name": "extra-a", "emptyDir": {}, "configMap": {"name": "c"}}]},
     "/extraVolumes/0"),
    ("volume-upper-case-name", {"extraVolumes": [{"name": "Extra", "emptyDir": {}}]}, "/extraVolumes/0/name"),
    ("mount-unknown-field", {"extraVolumeMounts": [{"name": "extra-a", "mountPath": "/x", "bogusField": "x"}]},
     "/extraVolumeMounts/0"),
    ("mount-propagation-enum", {"extraVolumeMounts": [{"name": "extra-a", "mountPath": "/x",
                                                       "mountPropagation": "In "}]},
     "/extraVolumeMounts/0/mountPropagation"),
    ("git-mount-sub-path-up", {"cloneFilesFromGit": {"extraVolumeMounts": [{"name": "a", "mountPath": "/x",
                                                                            "subPath": "../etc"}]}},
     "/cloneFilesFromGit/extraVolumeMounts/0/subPath"),
    ("env-two-sources", {"extraEnvVars": [{"name": "A", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.name"}, "configMapKeyRef": {"name": "c", "key": "k"}}}]},
     "/extraEnvVars/0/valueFrom"),
    ("env-unsupported-field-path", {"extraEnvVars": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "-1"}}}]},
     "/extraEnvVars/0/valueFrom/fieldRef/fieldPath"),
    ("node-selector-key", {"nodeSelector": {"=": "a"}}, "/nodeSelector"),
    ("node-selector-template-value", {"nodeSelector": {"zone": "{{"}}, "/nodeSelector"),
    ("container-security-context-unknown-field", {"containerSecurityContext": {"bogusField": True}},
     "/containerSecurityContext"),
    ("container-app-armor-type", {"containerSecurityContext": {"appArmorProfile": {"type": "{"}}},
     "/containerSecurityContext/appArmorProfile/type"),
    ("container-proc-mount-unmasked", {"containerSecurityContext": {"procMount": "Unmasked"}},
     "/containerSecurityContext/procMount"),
    ("container-privileged-without-escalation", {"containerSecurityContext": {"privileged": True}},
     "/containerSecurityContext"),
    ("container-windows-host-process", {"containerSecurityContext": {"windowsOptions": {"hostProcess": True}}},
     "/containerSecurityContext/windowsOptions/hostProcess"),
    ("container-windows-user-at", {"containerSecurityContext": {"windowsOptions": {"runAsUserName": "user@corp"}}},
     "/containerSecurityContext/windowsOptions/runAsUserName"),
    ("container-windows-gmsa-name", {"containerSecurityContext": {"windowsOptions": {"gmsaCredentialSpecName": "Spec_1"}}},
     "/containerSecurityContext/windowsOptions/gmsaCredentialSpecName"),
    ("container-windows-user-name-character", {"containerSecurityContext": {"windowsOptions": {"runAsUserName": "="}}},
     "/containerSecurityContext/windowsOptions/runAsUserName"),
    ("container-windows-user-name-two-domains",
     {"containerSecurityContext": {"windowsOptions": {"runAsUserName": "a\\b\\c"}}},
     "/containerSecurityContext/windowsOptions/runAsUserName"),
]


@pytest.mark.parametrize("values,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_should_refuse_what_the_api_server_refuses_naming_the_key(values, expected):
    message = render_error(values)
    assert "values don't meet the specifications of the schema" in message and expected in message, message


def test_should_pass_valid_objects_into_the_pod_spec_unchanged():
    tolerations = [{"key": "gpu", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
    spread = [{"maxSkew": 2, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
               "minDomains": 3, "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "{{ .Release.Name }}"}}}]
    volumes = [{"name": "extra-a", "configMap": {"name": "{{ .Release.Name }}-extra", "defaultMode": 420}}]
    mounts = [{"name": "extra-a", "mountPath": "/etc/extra", "subPath": "conf/a.yaml", "readOnly": True}]
    env = [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app.kubernetes.io/name']"}}}]
    windows = {"runAsUserName": "NT AUTHORITY\\NETWORK SERVICE"}
    pod = render({"tolerations": tolerations, "topologySpreadConstraints": spread, "extraVolumes": volumes,
                  "extraVolumeMounts": mounts, "extraEnvVars": env, "nodeSelector": {"pool": "a100"},
                  "containerSecurityContext": {"windowsOptions": windows}}).pod_spec()
    release = RELEASE
    assert pod["tolerations"] == tolerations
    assert pod["topologySpreadConstraints"] == [{**spread[0], "labelSelector": {
        "matchLabels": {"app.kubernetes.io/instance": release}}}]
    assert pod["nodeSelector"] == {"pool": "a100"}
    assert {v["name"]: v for v in pod["volumes"]}["extra-a"] == {
        "name": "extra-a", "configMap": {"name": f"{release}-extra", "defaultMode": 420}}
    container = next(c for c in pod["containers"] if c["name"] == "pytorch")
    assert {m["name"]: m for m in container["volumeMounts"]}["extra-a"] == mounts[0]
    assert {e["name"]: e for e in container["env"]}["POD"] == env[0]
    assert container["securityContext"]["windowsOptions"] == windows


@pytest.mark.parametrize("user", ["ContainerUser", "NT AUTHORITY\\NETWORK SERVICE", "CORP\\svc-train.01"])
def test_should_pass_a_windows_user_name_of_the_api_servers_form(user):
    options = {"runAsUserName": user, "gmsaCredentialSpecName": "train-spec", "hostProcess": False}
    container = render({"containerSecurityContext": {"windowsOptions": options}}).container("pytorch")
    assert container["securityContext"]["windowsOptions"] == options


def test_should_have_the_kubernetes_types_generated_from_the_openapi_schemas():
    proc = subprocess.run([sys.executable, CHART / "hack" / "k8s-defs.py", "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# validateValues: what the API server checks across the pod (unique names and paths, a mount's volume).
VOLUME_CASES = [
    ("volume-name-of-the-chart", {"extraVolumes": [{"name": "data", "emptyDir": {}}]},
     'extraVolumes: the volume name "data" is taken'),
    ("volume-name-twice", {"extraVolumes": [{"name": "extra-a", "emptyDir": {}}, {"name": "extra-a", "emptyDir": {}}]},
     'extraVolumes: the volume name "extra-a" is taken'),
    ("mount-without-volume", {"extraVolumeMounts": [{"name": "extra-b", "mountPath": "/x"}]},
     'extraVolumeMounts: the mount of "extra-b" names no volume of the pod'),
    ("mount-path-of-the-chart", {"extraVolumes": [{"name": "extra-a", "emptyDir": {}}],
                                 "extraVolumeMounts": [{"name": "extra-a", "mountPath": "/dev/shm"}]},
     "extraVolumeMounts: the mountPath /dev/shm is mounted already in this container"),
    ("git-mount-without-volume", {"cloneFilesFromGit": {"enabled": True, "repository": "https://example.com/r.git",
                                                        "extraVolumeMounts": [{"name": "certs", "mountPath": "/certs"}]}},
     'cloneFilesFromGit.extraVolumeMounts: the mount of "certs" names no volume of the pod'),
]


@pytest.mark.parametrize("values,expected", [c[1:] for c in VOLUME_CASES], ids=[c[0] for c in VOLUME_CASES])
def test_should_refuse_volumes_and_mounts_the_pod_cannot_hold_naming_the_key(values, expected):
    message = render_error(values)
    assert "values are not valid:" in message and expected in message, message


def test_should_mount_an_extra_volume_in_the_git_container():
    values = {"cloneFilesFromGit": {"enabled": True, "repository": "https://example.com/r.git",
                                    "extraVolumeMounts": [{"name": "certs", "mountPath": "/certs", "readOnly": True}]},
              "extraVolumes": [{"name": "certs", "secret": {"secretName": "ca-certs"}}]}
    manifests = render(values)
    assert manifests.volumes()["certs"] == {"name": "certs", "secret": {"secretName": "ca-certs"}}
    git = manifests.init_container("git-clone")
    assert {m["name"]: m for m in git["volumeMounts"]}["certs"] == {"name": "certs", "mountPath": "/certs", "readOnly": True}
