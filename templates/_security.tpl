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
A key set to null (`seLinuxOptions:` with nothing after it) is left out: Kubernetes reads it so.
Usage: {{ include "pytorch.containerSecurityContext" . }}
*/}}
{{- define "pytorch.containerSecurityContext" -}}
{{- if .Values.containerSecurityContext.enabled }}
{{- $context := dict }}
{{- range $key, $value := omit .Values.containerSecurityContext "enabled" }}
{{- if not (kindIs "invalid" $value) }}{{ $_ := set $context $key $value }}{{ end }}
{{- end }}
securityContext:
  {{- toYaml $context | nindent 2 }}
{{- end }}
{{- end -}}
