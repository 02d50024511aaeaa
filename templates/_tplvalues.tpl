{{/*
pytorch.tplvalues.render: render a value (string or structure) as a template.
Usage: {{ include "pytorch.tplvalues.render" (dict "value" .Values.affinity "context" $) }}
*/}}
{{- define "pytorch.tplvalues.render" -}}
{{- if not (hasKey . "context") -}}
{{- fail "pytorch.tplvalues.render: missing argument 'context'" -}}
{{- end -}}
{{- if typeIs "string" .value -}}
{{- tpl .value .context -}}
{{- else -}}
{{- tpl (.value | toYaml) .context -}}
{{- end -}}
{{- end -}}
