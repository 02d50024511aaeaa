"""templates/configmap-programs.yaml: the ConfigMap <fullname>-programs that carries the chart's
programs (files/programs/) into the PyTorch container. Level: render."""
from __future__ import annotations

import pytest

from harness.presets import CODE, TORCHRUN, merge
from harness.tools import CHART

# Every file below files/programs/, under its path with "/" spelled "." (ConfigMap keys hold no "/");
# .helmignore keeps Python's byte code out of the chart.
PROGRAMS = {str(p.relative_to(CHART / "files" / "programs")).replace("/", "."): p.read_text()
            for p in (CHART / "files" / "programs").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
LABELS = {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel", "helm.sh/chart": "pytorch-1.1.0",
          "app.kubernetes.io/version": "2.8.0", "app.kubernetes.io/managed-by": "Helm",
          "app.kubernetes.io/part-of": "pytorch"}


@pytest.mark.parametrize("values", [merge(CODE, {"faultTolerance": {"enabled": True}}), {"heartbeat": {"enabled": True}}],
                         ids=["python-supervisor", "heartbeat"])
def test_should_render_every_program_byte_for_byte(render, values):
    assert render(values).get("ConfigMap", "rel-pytorch-programs") == {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "rel-pytorch-programs", "namespace": "ml", "labels": LABELS},
        "data": PROGRAMS}


def test_should_carry_common_annotations(render):
    cm = render({"heartbeat": {"enabled": True}, "commonAnnotations": {"team": "{{ .Release.Name }}-ml"}})
    assert cm.get("ConfigMap", "rel-pytorch-programs")["metadata"]["annotations"] == {"team": "rel-ml"}


@pytest.mark.parametrize("values", [{}, merge(CODE, TORCHRUN, {"faultTolerance": {"enabled": True}})],
                         ids=["default", "elastic-torchrun"])
def test_should_render_no_programs_configmap_when_no_program_runs(render, values):
    assert render(values).find("ConfigMap", "rel-pytorch-programs") is None
