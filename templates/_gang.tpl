{{/*
pytorch.gang.api: the API (group/version/kind) of the PodGroup of gangScheduling.provider; the
gang's objects are rendered when the cluster serves it.
Usage: {{ include "pytorch.gang.api" . }}
*/}}
{{- define "pytorch.gang.api" -}}
{{- $apis := dict "volcano" "scheduling.volcano.sh/v1beta1/PodGroup" "coscheduling" "scheduling.x-k8s.io/v1alpha1/PodGroup" "kubernetes" "scheduling.k8s.io/v1beta1/PodGroup" -}}
{{- $api := get $apis .Values.gangScheduling.provider -}}
{{- if not $api -}}
{{- fail (printf "pytorch.gang.api: gangScheduling.provider must be volcano, coscheduling or kubernetes, got %q" .Values.gangScheduling.provider) -}}
{{- end -}}
{{- $api -}}
{{- end -}}

{{/*
pytorch.gang.provider: gangScheduling.provider when the gang is rendered (gangScheduling.enabled,
and the cluster serves the provider's PodGroup API or gangScheduling.force), else "".
Usage: {{ if eq (include "pytorch.gang.provider" .) "volcano" }}
*/}}
{{- define "pytorch.gang.provider" -}}
{{- if .Values.gangScheduling.enabled -}}
{{- if or .Values.gangScheduling.force (.Capabilities.APIVersions.Has (include "pytorch.gang.api" .)) -}}
{{- .Values.gangScheduling.provider -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.gang.workloadAnnotations: the workload's gang annotations, as YAML (use with fromYaml):
Volcano's group-min-member (every rank), which Volcano's PodGroup controller reads from the
pods' owner.
Usage: {{ $annotations := include "pytorch.gang.workloadAnnotations" . | fromYaml }}
*/}}
{{- define "pytorch.gang.workloadAnnotations" -}}
{{- if eq (include "pytorch.gang.provider" .) "volcano" }}
scheduling.volcano.sh/group-min-member: {{ include "pytorch.worldSize" . | quote }}
{{- end }}
{{- end -}}

{{/*
pytorch.gang.podAnnotations: the pods' gang annotations, as YAML (use with fromYaml): the Volcano
queue, which Volcano reads from the pod.
Usage: {{ $annotations := include "pytorch.gang.podAnnotations" . | fromYaml }}
*/}}
{{- define "pytorch.gang.podAnnotations" -}}
{{- if and (eq (include "pytorch.gang.provider" .) "volcano") .Values.gangScheduling.volcano.queue }}
scheduling.volcano.sh/queue-name: {{ .Values.gangScheduling.volcano.queue | quote }}
{{- end }}
{{- end -}}

{{/*
pytorch.gang.podLabels: the pods' gang labels: the coscheduling PodGroup's name.
Usage: {{ with include "pytorch.gang.podLabels" $ | trim }}{{ . | nindent 4 }}{{ end }}
*/}}
{{- define "pytorch.gang.podLabels" -}}
{{- if eq (include "pytorch.gang.provider" .) "coscheduling" }}
scheduling.x-k8s.io/pod-group: {{ include "pytorch.fullname" . }}
{{- end }}
{{- end -}}

{{/*
pytorch.gang.podSpec: the pods' gang fields, as pod spec YAML: Kubernetes' own gang (provider
kubernetes, kube-scheduler's GangScheduling plugin) names the scheduling.k8s.io PodGroup in
spec.schedulingGroup. The field is immutable, and a pod may be created before its PodGroup:
it waits for it.
Usage: {{ with include "pytorch.gang.podSpec" $ | trim }}{{ . | nindent 2 }}{{ end }}
*/}}
{{- define "pytorch.gang.podSpec" -}}
{{- if eq (include "pytorch.gang.provider" .) "kubernetes" }}
schedulingGroup:
  podGroupName: {{ include "pytorch.fullname" . | quote }}
{{- end }}
{{- end -}}
