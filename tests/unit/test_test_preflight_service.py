"""templates/tests/test-preflight-service.yaml: the Ready pods of the release, for the preflight."""
from harness.presets import distributed

NAME = "rel-pytorch-preflight"


def test_should_publish_only_ready_pods_of_the_release(render):
    m = render(distributed(3), show_tests=True)
    svc = m.get("Service", NAME)
    assert svc["spec"] == {"clusterIP": "None", "publishNotReadyAddresses": False,
                           "selector": {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}}
    # Unlike the ranks' own headless Service, which publishes not-ready pods as well.
    headless = m.get("Service", "rel-pytorch-headless")
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert headless["spec"]["selector"] == svc["spec"]["selector"]


def test_should_exist_before_the_pod_as_a_test_hook(render):
    svc = render(distributed(3), show_tests=True).get("Service", NAME)
    assert svc["metadata"]["annotations"] == {"helm.sh/hook": "test", "helm.sh/hook-weight": "-1",
                                              "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}
    assert svc["metadata"]["labels"]["app.kubernetes.io/component"] == "test"


def test_should_not_render_the_service_in_standalone_mode_nor_with_the_release(render):
    assert render({}, show_tests=True).find("Service", NAME) is None
    assert render(distributed(3)).find("Service", NAME) is None
