{{/*
pytorch.metrics.port: the PyTorch container's `metrics` port, an item of its `ports` list; nothing
unless metrics.enabled.
Usage: {{ include "pytorch.metrics.port" $ | trim | nindent 4 }}
*/}}
{{- define "pytorch.metrics.port" -}}
{{- if .Values.metrics.enabled }}
- name: metrics
  containerPort: {{ .Values.metrics.port }}
  protocol: TCP
{{- end }}
{{- end -}}

{{/*
pytorch.metrics.podMonitorAPI: the API a PodMonitor needs the cluster to serve.
Usage: {{ .Capabilities.APIVersions.Has (include "pytorch.metrics.podMonitorAPI" .) }}
*/}}
{{- define "pytorch.metrics.podMonitorAPI" -}}
monitoring.coreos.com/v1/PodMonitor
{{- end -}}

{{/*
pytorch.metrics.podMonitor: "true" when the PodMonitor is rendered: metrics.podMonitor.enabled
and the cluster serves monitoring.coreos.com/v1 (`helm template --api-versions
monitoring.coreos.com/v1/PodMonitor` without a cluster).
Usage: {{ if eq (include "pytorch.metrics.podMonitor" .) "true" }}
*/}}
{{- define "pytorch.metrics.podMonitor" -}}
{{- and .Values.metrics.enabled .Values.metrics.podMonitor.enabled (.Capabilities.APIVersions.Has (include "pytorch.metrics.podMonitorAPI" .)) -}}
{{- end -}}
