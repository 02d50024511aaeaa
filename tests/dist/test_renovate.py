"""The Renovate configuration (.github/renovate.json) covers every pin: each version in
hack/versions.env and hack/images/versions.env, each image in values.yaml (and its copies in
Chart.yaml), each Python pin in pyproject.toml and hack/scanners/checkov-requirements.txt, and each
npm pin in hack/dist/package.json is matched by one of its rules.

Level: the configuration applied to the files the way Renovate applies it. A regex custom
manager's patterns run over the whole file (Renovate's matchStrings, JavaScript named groups
translated to Python's); a pin is covered when a match's currentValue is that pin, on its line,
with a datasource and a dependency name. A pin that a built-in manager reads (helm-values, npm,
pip_requirements) is covered when the configuration names the file in that manager's
managerFilePatterns and the pin has the form that manager extracts. Files in ignorePaths and
packages a packageRule disables are not covered."""
from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass

import pytest
import yaml

from harness.tools import ROOT

pytestmark = pytest.mark.dist

CONFIG = ROOT / ".github" / "renovate.json"
# Pins no registry serves: versions of programs of this repository.
OWN = {("hack/images/versions.env", "PAUSE_VERSION"): "our pause program, hack/images/pause"}
# Written by `IMAGES_RELOCK=1 make images` from the pins above (docs/images.md), so Renovate
# leaves them alone; generated from KUBERNETES_VERSION and ETCD_VERSION by hack/cluster/gen-mods.sh.
GENERATED = ["hack/images/debian.lock", "hack/images/requirements.lock",
             "hack/cluster/k8s/go.mod", "hack/cluster/etcd/go.mod"]


@dataclass(frozen=True)
class Pin:
    file: str
    name: str
    value: str
    line: int  # 1-based
    manager: str = "regex"  # the built-in manager that reads it, or "regex"


def config() -> dict:
    return json.loads(CONFIG.read_text())


def python_regex(pattern: str) -> re.Pattern:
    """A Renovate (JavaScript/RE2) pattern as a Python one: named groups and back-references."""
    return re.compile(pattern.replace("(?<", "(?P<").replace("\\k<", "(?P=").replace("(?P<=", "(?<=")
                      .replace("(?P<!", "(?<!"))


def file_pattern_matches(patterns: list[str], path: str) -> bool:
    """managerFilePatterns: /regex/ entries (the only form this configuration uses)."""
    for pattern in patterns:
        assert pattern.startswith("/") and pattern.endswith("/"), f"not a /regex/ pattern: {pattern}"
        if python_regex(pattern[1:-1]).search(path):
            return True
    return False


def ignored(cfg: dict, path: str) -> bool:
    return any(fnmatch.fnmatch(path, glob) for glob in cfg.get("ignorePaths", []))


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# --- the pins, read from the files ---------------------------------------------------------

def env_pins(path: str, text: str) -> list[Pin]:
    """NAME_VERSION=value lines (names ending in _VERSION are the pins of a versions.env)."""
    return [Pin(path, m.group(1), m.group(2).strip('"'), line_of(text, m.start()))
            for m in re.finditer(r"^([A-Z0-9_]+_VERSION)=(\S+)$", text, re.M)
            if (path, m.group(1)) not in OWN]


def values_image_pins(path: str, text: str) -> list[Pin]:
    """Every mapping with repository and tag in values.yaml: an image."""
    pins = []

    def walk(node, key_path):
        if isinstance(node, dict):
            if "repository" in node and "tag" in node:
                at = text.index(f"tag: {node['tag']}", text.index(f"repository: {node['repository']}"))
                pins.append(Pin(path, ".".join(key_path), str(node["tag"]), line_of(text, at), "helm-values"))
            for key, value in node.items():
                walk(value, [*key_path, str(key)])

    walk(yaml.safe_load(text), [])
    return pins


def chart_yaml_pins(path: str, text: str) -> list[Pin]:
    chart = yaml.safe_load(text)
    pins = [Pin(path, "appVersion", chart["appVersion"], line_of(text, text.index("\nappVersion:") + 1))]
    for image in yaml.safe_load(chart["annotations"]["artifacthub.io/images"]):
        ref = image["image"]
        pins.append(Pin(path, image["name"], ref.rsplit(":", 1)[1], line_of(text, text.index(f"image: {ref}"))))
    return pins


def pyproject_pins(path: str, text: str) -> list[Pin]:
    pins = []
    for group, requirements in tomllib.loads(text)["dependency-groups"].items():
        for requirement in requirements:
            name, _, version = requirement.partition("==")
            assert version, f"pyproject.toml [{group}] {requirement}: not pinned with =="
            pins.append(Pin(path, name, version, line_of(text, text.index(f'"{requirement}"'))))
    return pins


def requirements_pins(path: str, text: str) -> list[Pin]:
    return [Pin(path, m.group(1), m.group(2), line_of(text, m.start()), "pip_requirements")
            for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$", text, re.M)]


def package_json_pins(path: str, text: str) -> list[Pin]:
    pins = []
    package = json.loads(text)
    for field in ("dependencies", "devDependencies"):
        for name, version in package.get(field, {}).items():
            assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{path} {name}: {version} is not an exact version"
            pins.append(Pin(path, name, version, line_of(text, text.index(f'"{name}": "{version}"')), "npm"))
    return pins


PIN_FILES = {
    "hack/versions.env": env_pins,
    "hack/images/versions.env": env_pins,
    "values.yaml": values_image_pins,
    "Chart.yaml": chart_yaml_pins,
    "pyproject.toml": pyproject_pins,
    "hack/scanners/checkov-requirements.txt": requirements_pins,
    "hack/dist/package.json": package_json_pins,
}


# --- what the configuration matches ---------------------------------------------------------

def regex_matches(cfg: dict, path: str, text: str) -> set[tuple[int, str]]:
    """(line, currentValue) of every complete match of the regex custom managers on PATH."""
    found = set()
    for manager in cfg.get("customManagers", []):
        assert manager["customType"] == "regex", manager
        if not file_pattern_matches(manager["managerFilePatterns"], path):
            continue
        for pattern in manager["matchStrings"]:
            for m in python_regex(pattern).finditer(text):
                groups = {k: v for k, v in m.groupdict().items() if v}
                named = ("depName" in groups or "packageName" in groups
                         or "depNameTemplate" in manager or "packageNameTemplate" in manager)
                if "currentValue" in groups and named and ("datasource" in groups or "datasourceTemplate" in manager):
                    found.add((line_of(text, m.start("currentValue")), groups["currentValue"]))
    return found


def native_reads(cfg: dict, pin: Pin) -> bool:
    manager = cfg.get(pin.manager, {})
    return manager.get("enabled", True) and file_pattern_matches(manager.get("managerFilePatterns", []), pin.file)


def disabled(cfg: dict, pin: Pin) -> bool:
    for rule in cfg.get("packageRules", []):
        if rule.get("enabled", True):
            continue
        if "matchFileNames" in rule and pin.file not in rule["matchFileNames"]:
            continue
        names = rule.get("matchPackageNames")
        if names is None:
            return True
        positive = [n for n in names if not n.startswith("!")]
        negated = [n[1:] for n in names if n.startswith("!")]
        if pin.name not in negated and (not positive or pin.name in positive):
            return True
    return False


def uncovered(cfg: dict, texts: dict[str, str]) -> list[tuple[str, str, str]]:
    """(file, name, value) of every pin in TEXTS (file -> content) that no rule covers."""
    missing = []
    for path, text in texts.items():
        pins = PIN_FILES[path](path, text)
        assert pins, f"no pin found in {path}"
        matches = regex_matches(cfg, path, text)
        for pin in pins:
            read = (pin.line, pin.value) in matches if pin.manager == "regex" else native_reads(cfg, pin)
            if ignored(cfg, path) or disabled(cfg, pin) or not read:
                missing.append((pin.file, pin.name, pin.value))
    return missing


def repository_texts() -> dict[str, str]:
    return {path: (ROOT / path).read_text() for path in PIN_FILES}


# --- the tests ------------------------------------------------------------------------------

def test_should_parse_as_a_renovate_configuration():
    cfg = config()
    assert cfg["$schema"] == "https://docs.renovatebot.com/renovate-schema.json"
    assert cfg["extends"] == ["config:recommended", "helpers:pinGitHubActionDigestsToSemver"]
    for manager in cfg["customManagers"]:
        assert set(manager) <= {"description", "customType", "managerFilePatterns", "matchStrings",
                                "datasourceTemplate", "depNameTemplate", "extractVersionTemplate"}, manager
        assert manager["description"] and manager["matchStrings"]
        for pattern in manager["matchStrings"]:
            assert "\\k<" not in pattern, "Renovate's RE2 has no back-references"
            python_regex(pattern)


def test_should_cover_every_pin_with_a_rule():
    assert uncovered(config(), repository_texts()) == []


def test_should_find_the_pins_it_checks():
    """The check above looks at every pin: counted per file, so a reader that finds nothing fails."""
    counts = {path: len(PIN_FILES[path](path, text)) for path, text in repository_texts().items()}
    assert counts["values.yaml"] == 4  # image, git, volumePermissions.image, tensorboard.image
    assert counts["Chart.yaml"] == 5  # appVersion and the four artifacthub.io/images
    assert counts["hack/images/versions.env"] == 1  # PIP_VERSION (PAUSE_VERSION is ours)
    assert counts["hack/dist/package.json"] == 1
    assert counts["pyproject.toml"] >= 10 and counts["hack/scanners/checkov-requirements.txt"] >= 80
    assert counts["hack/versions.env"] >= 20


def test_should_report_a_pin_that_no_rule_covers():
    texts = repository_texts()
    texts["hack/versions.env"] += "\n# A tool added without a rule.\nNEW_TOOL_VERSION=v1.2.3\n"
    texts["hack/images/versions.env"] += 'DEBIAN_TOOL_VERSION="4.5"\n'
    assert uncovered(config(), texts) == [("hack/versions.env", "NEW_TOOL_VERSION", "v1.2.3"),
                                          ("hack/images/versions.env", "DEBIAN_TOOL_VERSION", "4.5")]


def test_should_cover_a_new_pin_that_names_its_datasource_in_a_comment():
    texts = repository_texts()
    texts["hack/versions.env"] += "\n# renovate: datasource=go depName=example.com/new/tool\nNEW_TOOL_VERSION=v1.2.3\n"
    assert uncovered(config(), texts) == []


def test_should_report_an_image_that_the_values_manager_does_not_read():
    cfg = config()
    cfg["helm-values"]["managerFilePatterns"] = ["/(^|/)other-values\\.yaml$/"]
    assert [name for _, name, _ in uncovered(cfg, repository_texts())] == \
        ["image", "git", "volumePermissions.image", "tensorboard.image"]


def test_should_report_pins_of_a_file_in_ignore_paths_or_a_disabled_package():
    cfg = config()
    cfg["ignorePaths"] = [*cfg["ignorePaths"], "hack/dist/**"]
    cfg["packageRules"] = [*cfg["packageRules"], {"matchFileNames": ["pyproject.toml"],
                                                  "matchPackageNames": ["torch"], "enabled": False}]
    missing = uncovered(cfg, repository_texts())
    assert [(f, n) for f, n, _ in missing] == [("pyproject.toml", "torch"),
                                               ("hack/dist/package.json", "@bitnami/readme-generator-for-helm")]


def test_should_leave_generated_locks_to_their_generators():
    cfg = config()
    assert [path for path in GENERATED if not ignored(cfg, path)] == []
    assert [path for path in PIN_FILES if ignored(cfg, path)] == []
