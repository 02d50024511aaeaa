{{/*
pytorch.paused: "true" when `paused` is set: the workload keeps no running rank (StatefulSet and
Deployment: 0 replicas; Job: spec.suspend) and the release, its claims and the pod template stay
as they are, so `paused=false` resumes from the checkpoint every rank saved on SIGTERM
(docs/fault-tolerance.md, "Pause and resume"). Empty otherwise (null reads as false).
Usage: {{ $paused := eq (include "pytorch.paused" .) "true" }}
*/}}
{{- define "pytorch.paused" -}}
{{- if .Values.paused }}true{{ end -}}
{{- end -}}
