"""templates/_compat.tpl: how the Bitnami 4.x keys reach the templates: read before anything else
(every template calls pytorch.compat first), then gone from .Values; a key of this chart counts as
set when it is not at values.yaml's default. What each 4.x key does: tests/unit/test_bitnami_values.py."""
from __future__ import annotations

import json

import pytest
import yaml

from harness.presets import distributed, merge
from harness.tools import CHART

VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
TEMPLATES = sorted(p for p in (CHART / "templates").rglob("*") if p.is_file() and not p.name.startswith("_"))
FIRST_LINE = '{{- include "pytorch.compat" . -}}'
# A template that prints what is left of .Values once pytorch.compat has run (twice).
LEFT = """{{- include "pytorch.compat" . -}}
{{- include "pytorch.compat" . -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: probe
data:
  values: {{ toJson .Values | quote }}
  defaults: {{ include "pytorch.compat.defaults" . | fromYaml | toJson | quote }}
"""


def at(key: str):
    values = VALUES
    for part in key.split("."):
        values = values[part]
    return values


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(CHART / "templates")))
def test_should_call_compat_first_in_every_template(template):
    assert template.read_text().splitlines()[0] == FIRST_LINE


def left(probe, values: dict) -> tuple[dict, dict]:
    data = probe(LEFT, values)["ConfigMap", "probe"]["data"]
    return json.loads(data["values"]), json.loads(data["defaults"])


def test_should_know_the_defaults_of_values_yaml(probe):
    _, defaults = left(probe, {})
    assert defaults == {key: at(key) for key in defaults}
    assert len(defaults) == 8


def test_should_leave_only_this_charts_keys_in_values(probe):
    v4 = yaml.safe_load((CHART / "tests" / "data" / "bitnami" / "values-4.x.yaml").read_text())
    values, _ = left(probe, merge(v4, {"architecture": "distributed", "worldSize": 3}))
    assert set(values) <= set(VALUES)
    for key in ("global", "service", "networkPolicy", "persistence", "volumePermissions"):
        assert set(values[key]) <= set(VALUES[key]), key
    assert (values["mode"], values["port"], values["securityContext"]["fsGroupChangePolicy"]) == \
        ("distributed", 49875, "Always")


def without_nulls(tree: dict) -> dict:
    """The values as helm hands them to the templates: a key whose default is null is left out."""
    return {k: without_nulls(v) if isinstance(v, dict) else v for k, v in tree.items() if v is not None}


def test_should_leave_values_without_bitnami_keys_as_they_are(probe):
    values, _ = left(probe, distributed(3))
    assert values == without_nulls(merge(VALUES, distributed(3)))
