"""The container images hack/images/build.sh builds (docs/images.md), as the chart refers
to them on a real node: through `global.imageRegistry`, the node's own registry."""
from __future__ import annotations

import json

from .tools import ROOT

IMAGES_DIR = ROOT / ".cache" / "images"
REGISTRY = "127.0.0.1:5000"   # hack/cluster/lib.sh: REGISTRY_ADDR, inside the cluster's namespace
# Image (hack/images) -> the chart's image block that uses it.
CHART_IMAGES = {"pytorch": "image", "git": "git", "shell": "volumePermissions.image"}


def image_ref(name: str) -> tuple[str, str]:
    """(repository, tag) of a built image, from its OCI layout's index.json."""
    index = json.loads((IMAGES_DIR / name / "index.json").read_text())
    ref = index["manifests"][0]["annotations"]["io.containerd.image.name"]
    repository, tag = ref.rsplit(":", 1)
    if repository.split("/", 1)[0].count(".") or ":" in repository.split("/", 1)[0]:
        repository = repository.split("/", 1)[1]   # drop a registry host, if any
    return repository, tag


def missing_images() -> list[str]:
    return [n for n in (*CHART_IMAGES, "pause") if not (IMAGES_DIR / n / "index.json").is_file()]


def chart_image_values() -> list[str]:
    """`--set` arguments that point every image of the chart at the node's registry."""
    sets = [f"global.imageRegistry={REGISTRY}"]
    for name, key in CHART_IMAGES.items():
        repository, tag = image_ref(name)
        sets += [f"{key}.repository={repository}", f"{key}.tag={tag}"]
    return sets


if __name__ == "__main__":   # hack/cluster/demo.sh: one `--set` argument per line
    print("\n".join(chart_image_values()))
