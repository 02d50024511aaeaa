"""templates/tests/test-preflight-service.yaml: the Ready pods of the release, and every pod with
an address, for the preflight."""
import pytest

from harness.presets import distributed, merge

NAME, PODS = "rel-pytorch-preflight", "rel-pytorch-preflight-pods"
SELECTOR = {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}


def test_should_publish_only_ready_pods_of_the_release(render):
    m = render(distributed(3), show_tests=True)
    svc = m.get("Service", NAME)
    assert svc["spec"] == {"clusterIP": "None", "publishNotReadyAddresses": False, "selector": SELECTOR}


@pytest.mark.parametrize("all_ranks", [False, True])
def test_should_publish_every_pod_with_an_address_whichever_ranks_the_ranks_service_publishes(render, all_ranks):
    m = render(merge(distributed(3), {"headlessService": {"allRanks": all_ranks}}), show_tests=True)
    assert m.get("Service", PODS)["spec"] == {"clusterIP": "None", "publishNotReadyAddresses": True,
                                              "selector": SELECTOR}
    # The ranks' own Service selects rank 0 only by default.
    headless = m.get("Service", "rel-pytorch-headless")["spec"]["selector"]
    assert headless == (SELECTOR if all_ranks else {**SELECTOR, "apps.kubernetes.io/pod-index": "0"})


def test_should_keep_both_names_dns_labels_with_the_longest_fullname(render):
    m = render(merge(distributed(3), {"fullnameOverride": "f" * 63}), show_tests=True)
    names = sorted(o["metadata"]["name"] for o in m if o["kind"] == "Service" and "preflight" in o["metadata"]["name"])
    assert names == ["f" * 48 + "-preflight", "f" * 48 + "-preflight-pods"]


@pytest.mark.parametrize("name", [NAME, PODS])
def test_should_exist_before_the_pod_as_a_test_hook(render, name):
    svc = render(distributed(3), show_tests=True).get("Service", name)
    assert svc["metadata"]["annotations"] == {"helm.sh/hook": "test", "helm.sh/hook-weight": "-1",
                                              "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}
    assert svc["metadata"]["labels"]["app.kubernetes.io/component"] == "test"


def test_should_not_render_the_service_in_standalone_mode_nor_with_the_release(render):
    for name in (NAME, PODS):
        assert render({}, show_tests=True).find("Service", name) is None
        assert render(distributed(3)).find("Service", name) is None
