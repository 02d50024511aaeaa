{{/*
pytorch.podSecurityContext: the pod's securityContext block, or nothing when disabled.
Usage: {{ include "pytorch.podSecurityContext" . }}
*/}}
{{- define "pytorch.podSecurityContext" -}}
{{- with .Values.securityContext }}
{{- if .enabled }}
securityContext:
  runAsUser: {{ int64 .runAsUser }}
  runAsGroup: {{ int64 .runAsGroup }}
  fsGroup: {{ int64 .fsGroup }}
  fsGroupChangePolicy: {{ .fsGroupChangePolicy }}
  runAsNonRoot: {{ ne (int .runAsUser) 0 }}
  seccompProfile:
    type: RuntimeDefault
{{- end }}
{{- end }}
{{- end -}}

{{/*
pytorch.containerSecurityContext: a container's securityContext block, or nothing when disabled.
Usage: {{ include "pytorch.containerSecurityContext" . }}
*/}}
{{- define "pytorch.containerSecurityContext" -}}
{{- if .Values.containerSecurityContext.enabled }}
securityContext:
  {{- omit .Values.containerSecurityContext "enabled" | toYaml | nindent 2 }}
{{- end }}
{{- end -}}
