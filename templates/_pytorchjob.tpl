{{/*
pytorch.env.pytorchJob: the PET_* variables that Kubeflow's PyTorchJob gives every pod and that
torchrun reads as the defaults of its flags (--nnodes, --nproc-per-node, --node-rank,
--master-addr, --master-port), so that scripts and launch lines written for a PyTorchJob run
unchanged. With launcher=python each pod is one process: PET_NPROC_PER_NODE is 1. `rank` as in
pytorch.env.
Usage: {{ include "pytorch.env.pytorchJob" (dict "rank" .rank "context" $) }}
*/}}
{{- define "pytorch.env.pytorchJob" -}}
{{- $ := .context -}}
- name: PET_NNODES
  value: {{ include "pytorch.nnodes" $ | quote }}
- name: PET_NPROC_PER_NODE
  value: {{ ternary (include "pytorch.nprocPerNode" $) "1" (eq $.Values.launcher "torchrun") | quote }}
- name: PET_NODE_RANK
{{- if hasKey .rank "fieldPath" }}
  valueFrom:
    fieldRef:
      fieldPath: {{ .rank.fieldPath }}
{{- else }}
  value: {{ .rank.value | quote }}
{{- end }}
- name: PET_MASTER_ADDR
  value: {{ include "pytorch.masterAddress" $ | quote }}
- name: PET_MASTER_PORT
  value: {{ $.Values.port | quote }}
{{- end -}}
