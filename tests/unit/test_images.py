"""Images and pull secrets (image.*, global.imageRegistry, global.imagePullSecrets)."""
import pytest

from harness.presets import GIT, PERMISSIONS, merge

GIT_AND_PERMS = merge(GIT, PERMISSIONS)


def test_should_default_to_official_pytorch_image_pinned_to_a_release(default):
    c = default.container()
    assert c["image"] == "docker.io/pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime"
    assert c["imagePullPolicy"] == "IfNotPresent"


def test_should_not_default_to_withdrawn_bitnami_images(render):
    for image in render(GIT_AND_PERMS).images():
        assert "bitnami" not in image and not image.endswith(":latest")


def test_should_build_image_from_registry_repository_and_tag(render):
    m = render({"image": {"registry": "r.example", "repository": "ml/torch", "tag": "2.9.0"}})
    assert m.container()["image"] == "r.example/ml/torch:2.9.0"


def test_should_prefer_digest_over_tag(render):
    digest = "sha256:" + "0123456789abcdef" * 4
    assert render({"image": {"digest": digest}}).container()["image"] == f"docker.io/pytorch/pytorch@{digest}"


def test_should_accept_numeric_tag_from_set(render):
    assert render(None, "image.tag=2").container()["image"].endswith(":2")


def test_should_omit_empty_registry(render):
    assert render({"image": {"registry": ""}}).container()["image"] == "pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime"


def test_should_replace_every_registry_with_global_image_registry(render):
    images = render({**GIT_AND_PERMS, "global": {"imageRegistry": "mirror.corp"}}, show_tests=True).images()
    assert len(images) == 4 and all(i.startswith("mirror.corp/") for i in images)


@pytest.mark.parametrize("policy", ["Always", "IfNotPresent", "Never"])
def test_should_set_pull_policy(render, policy):
    assert render({"image": {"pullPolicy": policy}}).container()["imagePullPolicy"] == policy


def test_should_render_no_pull_secrets_by_default(default):
    assert "imagePullSecrets" not in default.pod_spec()


def test_should_merge_pull_secrets_once_each_from_names_and_objects(render):
    m = render({**GIT_AND_PERMS, "global": {"imagePullSecrets": ["shared", {"name": "corp"}]},
                "image": {"pullSecrets": [{"name": "shared"}, "torch"]},
                "git": {"pullSecrets": ["git"]}, "volumePermissions": {"enabled": True, "image": {"pullSecrets": ["corp"]}}})
    assert m.pod_spec()["imagePullSecrets"] == [{"name": n} for n in ["shared", "corp", "torch", "git"]]


def test_should_render_pull_secret_names_as_templates(render):
    m = render({"image": {"pullSecrets": ["{{ .Release.Name }}-registry"]}})
    assert m.pod_spec()["imagePullSecrets"] == [{"name": "rel-registry"}]


def test_should_use_pull_secrets_in_test_hook(render):
    m = render({"global": {"imagePullSecrets": ["corp"]}}, show_tests=True)
    assert m.get("Pod")["spec"]["imagePullSecrets"] == [{"name": "corp"}]


def test_should_fail_naming_the_helper_without_an_image(probe):
    assert "pytorch.image: missing argument 'image'" in probe('{{ include "pytorch.image" (dict "context" $) }}', error=True)
