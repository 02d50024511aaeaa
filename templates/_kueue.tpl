{{/*
pytorch.kueue.labels: the Kueue labels of the workload object (Job, StatefulSet or Deployment):
the LocalQueue and the WorkloadPriorityClass. They go on that object only: Kueue reads them
there, and the `helm test` pod must not be queued.
Usage: {{ with include "pytorch.kueue.labels" . | trim }}{{ . | nindent 4 }}{{ end }}
*/}}
{{- define "pytorch.kueue.labels" -}}
{{- with .Values.kueue.queueName }}
kueue.x-k8s.io/queue-name: {{ . | quote }}
{{- end }}
{{- with .Values.kueue.priorityClass }}
kueue.x-k8s.io/priority-class: {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
pytorch.kueue.podAnnotations: Kueue's topology-aware scheduling annotations of the pod template
(Kueue reads them per PodSet), as YAML (use with fromYaml); empty when kueue.topology is unset.
Usage: {{ $annotations := include "pytorch.kueue.podAnnotations" . | fromYaml }}
*/}}
{{- define "pytorch.kueue.podAnnotations" -}}
{{- with .Values.kueue.topology }}
{{- with .required }}
kueue.x-k8s.io/podset-required-topology: {{ . | quote }}
{{- end }}
{{- with .preferred }}
kueue.x-k8s.io/podset-preferred-topology: {{ . | quote }}
{{- end }}
{{- if .unconstrained }}
kueue.x-k8s.io/podset-unconstrained-topology: "true"
{{- end }}
{{- with .sliceRequired }}
kueue.x-k8s.io/podset-slice-required-topology: {{ . | quote }}
{{- end }}
{{- if not (kindIs "invalid" .sliceSize) }}
kueue.x-k8s.io/podset-slice-size: {{ int .sliceSize | quote }}
{{- end }}
{{- end }}
{{- end -}}
