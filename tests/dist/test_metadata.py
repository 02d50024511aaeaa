"""Chart metadata for the ecosystem: a semver version, Artifact Hub annotations that tell the truth
(images equal what the chart renders, changes equal the changelog) and a CHANGELOG entry."""
from __future__ import annotations

import re

import pytest
import yaml

from harness.presets import GIT, PERMISSIONS, merge
from harness.tools import ROOT

from .support import CHART_YAML, VERSION

pytestmark = pytest.mark.dist

# https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")
ANNOTATIONS = CHART_YAML["annotations"]
# https://artifacthub.io/docs/topics/annotations/helm/
CHANGE_KINDS = {"added", "changed", "deprecated", "removed", "fixed", "security"}
ALL_IMAGES = merge(GIT, PERMISSIONS, {"tensorboard": {"enabled": True}})


def annotation(name: str):
    return yaml.safe_load(ANNOTATIONS[f"artifacthub.io/{name}"])


def test_should_version_the_chart_with_semver():
    assert SEMVER.match(VERSION), VERSION
    assert CHART_YAML["apiVersion"] == "v2"


def test_should_give_app_version_as_the_pytorch_release_of_the_default_image():
    values = yaml.safe_load((ROOT / "values.yaml").read_text())
    assert SEMVER.match(CHART_YAML["appVersion"])
    assert values["image"]["tag"].startswith(CHART_YAML["appVersion"] + "-")


def test_should_keep_every_annotation_a_string():
    assert all(isinstance(v, str) for v in ANNOTATIONS.values())  # Helm and ct's chart schema require it
    assert set(ANNOTATIONS) <= {f"artifacthub.io/{n}" for n in (
        "license", "category", "prerelease", "containsSecurityUpdates", "links", "images", "changes")}


def test_should_list_exactly_the_images_that_the_chart_renders(render):
    listed = annotation("images")
    assert all(set(i) == {"name", "image"} for i in listed)
    assert len({i["name"] for i in listed}) == len(listed)
    rendered = set(render(ALL_IMAGES, show_tests=True).images())
    assert {i["image"] for i in listed} == rendered
    assert len(listed) == 4


def test_should_give_links_license_and_category():
    links = annotation("links")
    assert links and all(set(link) == {"name", "url"} and link["url"].startswith("https://") for link in links)
    assert re.fullmatch(r"[A-Za-z0-9.+-]+", ANNOTATIONS["artifacthub.io/license"])
    assert ANNOTATIONS["artifacthub.io/category"] == "ai-machine-learning"
    assert ANNOTATIONS["artifacthub.io/prerelease"] == ("true" if "-" in VERSION else "false")


def changelog_sections() -> dict[str, str]:
    text = (ROOT / "CHANGELOG.md").read_text()
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    return {part.split("\n", 1)[0].split(" - ")[0].strip(): part.split("\n", 1)[1] for part in parts}


def semver_key(version: str) -> tuple[int, int, int]:
    return tuple(int(n) for n in SEMVER.match(version).groups()[:3])


def announced_section() -> str:
    """The CHANGELOG section that Chart.yaml's version announces: its dated section once
    released, else Unreleased (the version is then the next one, not yet dated)."""
    sections = changelog_sections()
    return sections[VERSION] if VERSION in sections else sections.get("Unreleased", "")


def test_should_version_the_chart_as_its_newest_release_or_the_next_one():
    sections = changelog_sections()
    released = [name for name in sections if name != "Unreleased"]
    assert released, "CHANGELOG.md has no dated release"
    if VERSION in sections:
        assert released[0] == VERSION, f"CHANGELOG.md's newest release is not {VERSION}: {released}"
        assert re.search(rf"^## {re.escape(VERSION)} - \d{{4}}-\d{{2}}-\d{{2}}$",
                         (ROOT / "CHANGELOG.md").read_text(), re.M)
    else:
        # Unreleased changes are on their way out as VERSION: it is above the newest release.
        assert semver_key(VERSION) > semver_key(released[0]), (VERSION, released[0])
        assert re.search(r"^- ", sections.get("Unreleased", ""), re.M), \
            f"Chart.yaml says {VERSION}, not in CHANGELOG.md, and ## Unreleased lists nothing"


def test_should_announce_the_changelog_entries_of_this_version():
    changes = annotation("changes")
    assert all(set(c) == {"kind", "description"} and c["kind"] in CHANGE_KINDS for c in changes), changes
    logged: set[tuple[str, str]] = set()
    kind = None
    for line in announced_section().splitlines():
        if line.startswith("### "):
            kind = line[4:].strip().lower()
        elif line.startswith("- "):
            logged.add((kind, line[2:].strip()))
    announced = {(c["kind"], c["description"]) for c in changes}
    assert announced == logged, (f"Chart.yaml's artifacthub.io/changes and CHANGELOG.md's {VERSION} section "
                                 f"differ; only in Chart.yaml: {sorted(announced - logged)}; "
                                 f"only in CHANGELOG.md: {sorted(logged - announced)}")
