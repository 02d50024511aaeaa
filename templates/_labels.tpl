{{/*
pytorch.selectorLabels: the small, immutable label set used in selectors.
Never add the chart version here: selectors cannot change on upgrade.
Usage: {{ include "pytorch.selectorLabels" . }}
*/}}
{{- define "pytorch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pytorch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{/*
pytorch.labels: the labels of every resource.
Usage: {{ include "pytorch.labels" . }}
*/}}
{{- define "pytorch.labels" -}}
{{ include "pytorch.selectorLabels" . }}
helm.sh/chart: {{ include "pytorch.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pytorch
{{- with .Values.commonLabels }}
{{ include "pytorch.tplvalues.render" (dict "value" . "context" $) }}
{{- end }}
{{- end -}}

{{/*
pytorch.annotations: commonAnnotations merged with resource-specific ones; prints the
whole `annotations:` block, or nothing when there are none.
Usage: {{ include "pytorch.annotations" (dict "extra" .Values.service.annotations "context" $) }}
*/}}
{{- define "pytorch.annotations" -}}
{{- $all := merge (dict) (.extra | default (dict)) (.context.Values.commonAnnotations | default (dict)) -}}
{{- if $all }}
annotations:
  {{- include "pytorch.tplvalues.render" (dict "value" $all "context" .context) | nindent 2 }}
{{- end }}
{{- end -}}
