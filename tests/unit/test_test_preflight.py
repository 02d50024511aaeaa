"""templates/tests/test-preflight.yaml: the `helm test` preflight pod of distributed mode
(files/tests/preflight.py; docs/preflight.md)."""
import pytest

from harness.pod_security import restricted_violations
from harness.pods import env_of, pod_identities
from harness.presets import CODE, JOB, SHARED_CLAIM, distributed, merge

NAME = "rel-pytorch-test-preflight"
SVC = "ml.svc.cluster.local"
RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi", "ephemeral-storage": "1Mi"},
             "limits": {"cpu": "200m", "memory": "128Mi", "ephemeral-storage": "32Mi"}}
WORKLOADS = {"statefulset": distributed(5), "indexed-job": merge(distributed(5), CODE, JOB, SHARED_CLAIM)}


def hook(m):
    return m.get("Pod", NAME)


def test_should_not_install_the_preflight_with_the_release(render):
    assert render(distributed(3)).find("Pod") is None


def test_should_not_render_the_preflight_in_standalone_mode(render):
    m = render({"port": 1234}, show_tests=True)
    assert m.find("Pod", NAME) is None
    assert [o["metadata"]["name"] for o in m if o["kind"] == "Pod"] == ["rel-pytorch-test-master-address"]


def test_should_run_the_mounted_program_with_the_releases_ranks_and_port(render):
    pod = hook(render(merge(distributed(3), {"port": 29613}), show_tests=True))
    [container] = pod["spec"]["containers"]
    assert container["command"] == ["python", "/preflight/preflight.py"]
    assert "args" not in container
    assert env_of(container) == {
        "PREFLIGHT_RANK_HOST": f"rel-pytorch-{{rank}}.rel-pytorch-headless.{SVC}",
        "PREFLIGHT_NAMED_RANKS": "1", "PREFLIGHT_SUBDOMAIN": f"rel-pytorch-headless.{SVC}",
        "PREFLIGHT_HEADLESS": f"rel-pytorch-preflight-pods.{SVC}",
        "PREFLIGHT_READY": f"rel-pytorch-preflight.{SVC}",
        "WORLD_SIZE": "3", "MASTER_PORT": "29613", "POD_IP": {"fieldRef": {"fieldPath": "status.podIP"}},
        "PYTHONDONTWRITEBYTECODE": "1"}
    assert container["volumeMounts"] == [{"name": "preflight", "mountPath": "/preflight", "readOnly": True}]
    assert pod["spec"]["volumes"] == [{"name": "preflight",
                                       "configMap": {"name": "rel-pytorch-preflight", "defaultMode": 0o444}}]


@pytest.mark.parametrize("values", WORKLOADS.values(), ids=WORKLOADS.keys())
def test_should_name_each_rank_as_its_pod_is_published(render, values):
    """The rank names the program looks up are the names Kubernetes gives the workload's pods
    (hostname.subdomain), for the StatefulSet and the Indexed Job alike; the master is rank 0."""
    m = render(merge(values, {"clusterDomain": "corp.example"}), show_tests=True)
    env = env_of(hook(m)["spec"]["containers"][0])
    published = [f"{p['hostname']}.{p['subdomain']}.ml.svc.corp.example" for p in pod_identities(m.workload())]
    assert [env["PREFLIGHT_RANK_HOST"].format(rank=i) for i in range(5)] == published
    assert env_of(m.workload()["spec"]["template"]["spec"]["containers"][0])["MASTER_ADDR"] == published[0]
    assert env["WORLD_SIZE"] == "5"


def test_should_run_as_a_test_hook_after_its_configmap_and_service(render):
    meta = hook(render(distributed(3), show_tests=True))["metadata"]
    assert meta["annotations"] == {"helm.sh/hook": "test", "helm.sh/hook-weight": "0",
                                   "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}
    assert meta["labels"]["app.kubernetes.io/component"] == "test"


def test_should_carry_the_selector_labels_so_the_charts_policy_admits_it(render):
    """The chart's NetworkPolicy lets the release's own pods reach each other on any TCP port:
    the preflight is one of them, so its connect to rank 0 is allowed when nothing else blocks it."""
    m = render(merge(distributed(3), {"networkPolicy": {"allowExternal": False, "allowExternalEgress": False}}),
               show_tests=True)
    labels = hook(m)["metadata"]["labels"]
    [policy] = m.all("NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["spec"]["egress"][1]["to"][0]["podSelector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("values", WORKLOADS.values(), ids=WORKLOADS.keys())
def test_should_run_the_preflight_under_restricted_pod_security(render, values):
    spec = hook(render(merge(values, {"securityContext": {"runAsUser": 2000}}), show_tests=True))["spec"]
    assert restricted_violations(spec) == []
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                       "seccompProfile": {"type": "RuntimeDefault"}}
    assert spec["containers"][0]["securityContext"] == {"allowPrivilegeEscalation": False,
                                                        "readOnlyRootFilesystem": True,
                                                        "capabilities": {"drop": ["ALL"]}}
    assert spec["automountServiceAccountToken"] is False and spec["restartPolicy"] == "Never"


def test_should_bound_the_preflights_resources_as_the_other_hook(render):
    pod = hook(render(distributed(3), show_tests=True))
    assert pod["spec"]["containers"][0]["resources"] == RESOURCES


def test_should_take_the_image_and_pull_secrets_of_the_ranks(render):
    m = render(merge(distributed(3), {"image": {"registry": "reg.example", "pullPolicy": "Always"},
                                      "global": {"imagePullSecrets": ["pull"]}}), show_tests=True)
    pod, ranks = hook(m)["spec"], m.workload()["spec"]["template"]["spec"]
    assert (pod["containers"][0]["image"], pod["containers"][0]["imagePullPolicy"]) == \
        (ranks["containers"][0]["image"], "Always")
    assert pod["imagePullSecrets"] == ranks["imagePullSecrets"] == [{"name": "pull"}]


@pytest.mark.parametrize("all_ranks,named", [(False, "1"), (True, "7")])
def test_should_check_the_names_the_ranks_service_publishes(render, all_ranks, named):
    pod = hook(render(merge(distributed(7), {"headlessService": {"allRanks": all_ranks}}), show_tests=True))
    assert env_of(pod["spec"]["containers"][0])["PREFLIGHT_NAMED_RANKS"] == named
