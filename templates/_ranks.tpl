{{/*
pytorch.worldSize: the number of ranks: worldSize in distributed mode, 1 in standalone mode.
Usage: {{ include "pytorch.worldSize" . }}
*/}}
{{- define "pytorch.worldSize" -}}
{{- if eq .Values.mode "distributed" }}{{ int .Values.worldSize }}{{ else }}1{{ end -}}
{{- end -}}

{{/*
pytorch.nprocPerNode: processes per pod with launcher=torchrun: torchrun.nprocPerNode, else
gpu.count, else 1.
Usage: {{ include "pytorch.nprocPerNode" . }}
*/}}
{{- define "pytorch.nprocPerNode" -}}
{{- if gt (int .Values.torchrun.nprocPerNode) 0 }}{{ int .Values.torchrun.nprocPerNode }}
{{- else if gt (int .Values.gpu.count) 0 }}{{ int .Values.gpu.count }}
{{- else }}1{{ end -}}
{{- end -}}

{{/*
pytorch.masterAddress: the address every rank uses to reach rank 0 (MASTER_ADDR).
Distributed: the stable DNS name of pod 0 through the headless Service, which resolves
before any pod is ready because the Service publishes not-ready addresses.
Standalone: the loopback address.
Usage: {{ include "pytorch.masterAddress" . }}
*/}}
{{- define "pytorch.masterAddress" -}}
{{- if eq .Values.mode "distributed" -}}
{{- printf "%s-0.%s.%s.svc.%s" (include "pytorch.fullname" .) (include "pytorch.headlessServiceName" .) .Release.Namespace .Values.clusterDomain -}}
{{- else -}}
127.0.0.1
{{- end -}}
{{- end -}}

{{/*
pytorch.rankLabel: the label the workload controller puts on each pod with its rank (index):
the StatefulSet pod index, or the Indexed Job completion index.
Usage: {{ include "pytorch.rankLabel" . }}
*/}}
{{- define "pytorch.rankLabel" -}}
{{- ternary "batch.kubernetes.io/job-completion-index" "apps.kubernetes.io/pod-index" .Values.job.enabled -}}
{{- end -}}

{{/*
pytorch.rankFieldPath: the downward-API fieldPath a distributed pod reads its rank from: the
StatefulSet's pod-index label, or the Indexed Job's completion-index annotation (on every pod
since Kubernetes 1.21; the label of the same name came later).
Usage: {{ include "pytorch.rankFieldPath" . }}
*/}}
{{- define "pytorch.rankFieldPath" -}}
{{- printf "metadata.%s['%s']" (ternary "annotations" "labels" .Values.job.enabled) (include "pytorch.rankLabel" .) -}}
{{- end -}}
