"""Bad input fails at `helm template` time with a message that names the key."""
import pytest

DIST = {"mode": "distributed"}

# (id, values, --set strings, text the error must contain)
CASES = [
    ("mode-enum", {"mode": "cluster"}, (), "/mode"),
    ("mode-type", {"mode": 3}, (), "/mode"),
    ("worldsize-zero", {**DIST, "worldSize": 0}, (), "/worldSize"),
    ("worldsize-negative", None, ("mode=distributed", "worldSize=-2"), "/worldSize"),
    ("worldsize-string", {**DIST, "worldSize": "four"}, (), "/worldSize"),
    ("worldsize-float", {**DIST, "worldSize": 2.5}, (), "/worldSize"),
    ("worldsize-missing-in-distributed", DIST, (), "worldSize: required when mode=distributed"),
    ("worldsize-in-standalone", {"worldSize": 4}, (), "worldSize: 4 ranks need mode=distributed"),
    ("port-zero", {"port": 0}, (), "/port"),
    ("port-too-big", None, ("port=70000",), "/port"),
    ("port-string", {"port": "http"}, (), "/port"),
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
    ("mount-path-over-tmp", {"persistence": {"mountPath": "/tmp/data"}}, (), "persistence.mountPath"),
    ("mount-path-over-app", {"persistence": {"mountPath": "/app"}}, (), "persistence.mountPath"),
    ("service-type-enum", {"service": {"type": "Ingress"}}, (), "/service/type"),
    ("affinity-preset-enum", {"podAffinityPreset": "medium"}, (), "/podAffinityPreset"),
    ("anti-affinity-preset-enum", {"podAntiAffinityPreset": "always"}, (), "/podAntiAffinityPreset"),
    ("node-affinity-type-enum", {"nodeAffinityPreset": {"type": "strict"}}, (), "/nodeAffinityPreset/type"),
    ("node-affinity-without-key", {"nodeAffinityPreset": {"type": "hard", "values": ["a"]}}, (), "nodeAffinityPreset.key"),
    ("node-affinity-without-values", {"nodeAffinityPreset": {"type": "soft", "key": "k"}}, (), "nodeAffinityPreset.values"),
    ("hard-affinity-and-anti-affinity", {"podAffinityPreset": "hard", "podAntiAffinityPreset": "hard"}, (), "podAntiAffinityPreset"),
    ("liveness-success-threshold", {"livenessProbe": {"successThreshold": 2}}, (), "/livenessProbe/successThreshold"),
    ("probe-period-zero", {"readinessProbe": {"periodSeconds": 0}}, (), "/readinessProbe/periodSeconds"),
    ("probe-negative-delay", {"livenessProbe": {"initialDelaySeconds": -1}}, (), "/livenessProbe/initialDelaySeconds"),
    ("probe-enabled-type", {"livenessProbe": {"enabled": "yes"}}, (), "/livenessProbe/enabled"),
    ("git-without-repository", {"cloneFilesFromGit": {"enabled": True}}, (), "cloneFilesFromGit.repository"),
    ("git-empty-revision", {"cloneFilesFromGit": {"revision": ""}}, (), "/cloneFilesFromGit/revision"),
    ("args-without-file", {"entrypoint": {"args": ["--epochs", "3"]}}, (), "entrypoint.args"),
    ("relative-file-without-files", {"entrypoint": {"file": "train.py"}}, (), "entrypoint.file"),
    ("args-of-maps", {"entrypoint": {"args": [{"a": 1}]}}, (), "/entrypoint/args"),
    ("volume-permissions-without-persistence", {"volumePermissions": {"enabled": True}, "persistence": {"enabled": False}}, (), "volumePermissions.enabled"),
    ("existing-claim-without-persistence", {"persistence": {"enabled": False, "existingClaim": "x"}}, (), "persistence.existingClaim"),
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
    ("debug-type", {"image": {"debug": "on"}}, (), "/image/debug"),
]


@pytest.mark.parametrize("values,sets,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_should_reject_bad_values_naming_the_key(render_error, values, sets, expected):
    message = render_error(values, *sets)
    assert expected in message, message


def test_should_report_every_broken_rule_at_once(render_error):
    message = render_error({"mode": "distributed", "cloneFilesFromGit": {"enabled": True},
                            "entrypoint": {"args": ["x"]}})
    assert "worldSize: required" in message and "cloneFilesFromGit.repository" in message
    assert "entrypoint.args" in message


def test_should_refuse_kubernetes_older_than_kube_version(render_error):
    assert "kubeVersion" in render_error(None, args=("--kube-version", "1.29.0"))


@pytest.mark.parametrize("version", ["1.30.0", "1.37.0"])
def test_should_render_for_oldest_and_newest_supported_kubernetes(render, version):
    assert render(None, "mode=distributed", "worldSize=2", args=("--kube-version", version))["StatefulSet"]
