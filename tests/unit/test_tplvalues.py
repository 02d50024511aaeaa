"""templates/_tplvalues.tpl: values rendered as templates, whether a string or a structure."""

PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: probe
data:
  {{- include "pytorch.tplvalues.render" (dict "value" .Values.podLabels "context" $) | nindent 2 }}
"""


def test_should_render_a_structure_as_a_template(probe):
    cm = probe(PROBE, {"podLabels": {"release": "{{ .Release.Name }}", "ns": "{{ .Release.Namespace }}"}})
    assert cm.get("ConfigMap", "probe")["data"] == {"release": "rel", "ns": "ml"}


def test_should_render_a_string_as_a_template(probe):
    cm = probe(PROBE.replace(".Values.podLabels", '"release: {{ .Release.Name }}-{{ .Values.port }}"'))
    assert cm.get("ConfigMap", "probe")["data"] == {"release": "rel-49875"}


def test_should_fail_naming_the_helper_without_a_context(probe):
    message = probe('{{ include "pytorch.tplvalues.render" (dict "value" "x") }}', error=True)
    assert "pytorch.tplvalues.render: missing argument 'context'" in message
