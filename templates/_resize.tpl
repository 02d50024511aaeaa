{{/*
pytorch.resizable: "true" when faultTolerance.maxNodes > 0: torchrun's elastic rendezvous takes
minNodes..maxNodes pods, and worldSize stays out of the pod template, so `helm upgrade --set
worldSize=N` changes only the StatefulSet's replicas: the new ranks join the next rendezvous
round and the running pods are left alone (docs/fault-tolerance.md, "Resize in place").
_validate.tpl refuses it outside launcher=torchrun, faultTolerance.enabled and the StatefulSet.
Usage: {{ if include "pytorch.resizable" . }}
*/}}
{{- define "pytorch.resizable" -}}
{{- if gt (int .Values.faultTolerance.maxNodes) 0 }}true{{ end -}}
{{- end -}}

{{/*
pytorch.nnodes: NNODES and PET_NNODES (torchrun's --nnodes): "MIN:MAX" from
faultTolerance.minNodes (0 reads as 1) and faultTolerance.maxNodes when resizable, else the
number of pods (pytorch.worldSize).
Usage: {{ include "pytorch.nnodes" . }}
*/}}
{{- define "pytorch.nnodes" -}}
{{- if include "pytorch.resizable" . -}}
{{- printf "%d:%d" (max 1 (int .Values.faultTolerance.minNodes)) (int .Values.faultTolerance.maxNodes) -}}
{{- else -}}
{{- include "pytorch.worldSize" . -}}
{{- end -}}
{{- end -}}
