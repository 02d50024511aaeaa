"""Values files written for the Bitnami PyTorch chart install here (render and pass the Kubernetes
schemas) in both modes. Level: render. See docs/values-compat.md."""
from __future__ import annotations

import yaml

from harness.render import render
from harness.tools import CHART

DATA = CHART / "tests" / "data" / "bitnami"
V2 = yaml.safe_load((DATA / "values-2.x.yaml").read_text())
PARAMETERS = [line for line in (CHART / "tests" / "data" / "seed-parameters.txt").read_text().splitlines()
              if line and not line.startswith("#")]


def at(values: dict, key: str):
    for part in key.split("."):
        values = values[part]
    return values


def test_should_hold_every_parameter_of_the_bitnami_2x_table_in_its_defaults_file():
    missing = []
    for key in PARAMETERS:
        try:
            at(V2, key)
        except (KeyError, TypeError):
            missing.append(key)
    assert missing == []
    assert [k for k in PARAMETERS if at(V2, k) is None] == [
        "global.imageRegistry", "global.storageClass", "nameOverride", "fullnameOverride",
        "volumePermissions.resources", "entrypoint.args", "worldSize", "configMap",
        "cloneFilesFromGit.repository", "extraEnvVars", "persistence.storageClass"]


def test_should_install_the_bitnami_2x_defaults_in_standalone_mode():
    manifests = render(V2)
    assert manifests.workload()["kind"] == "Deployment"
    assert manifests.container()["image"] == "docker.io/bitnami/pytorch:1.7.1-debian-10-r0"
    assert manifests.mounts()["/bitnami/pytorch"] == {"name": "data", "mountPath": "/bitnami/pytorch"}
    assert manifests.container()["readinessProbe"]["timeoutSeconds"] == 1
    assert "resources" not in manifests.container()


def test_should_install_the_bitnami_2x_defaults_in_distributed_mode_with_five_ranks():
    manifests = render({**V2, "mode": "distributed", "worldSize": 5})
    statefulset = manifests.workload()
    assert (statefulset["kind"], statefulset["spec"]["replicas"]) == ("StatefulSet", 5)
    assert manifests.env()["WORLD_SIZE"] == "5"
    assert manifests.env()["MASTER_PORT"] == "49875"
