{{/*
pytorch.schedulerName: the scheduler of the pods: schedulerName, else `volcano` when the Volcano
gang is rendered, else nothing (the cluster's default scheduler).
Usage: {{ include "pytorch.schedulerName" . }}
*/}}
{{- define "pytorch.schedulerName" -}}
{{- if .Values.schedulerName -}}
{{- .Values.schedulerName -}}
{{- else if eq (include "pytorch.gang.provider" .) "volcano" -}}
volcano
{{- end -}}
{{- end -}}

{{/*
pytorch.placement: the pod spec's scheduler, termination grace period and topology spread
constraints; prints nothing when none is set.
Usage: {{ with include "pytorch.placement" $ | trim }}{{ . | nindent 2 }}{{ end }}
*/}}
{{- define "pytorch.placement" -}}
{{- with include "pytorch.schedulerName" . }}
schedulerName: {{ . | quote }}
{{- end }}
{{- if not (kindIs "invalid" .Values.terminationGracePeriodSeconds) }}
terminationGracePeriodSeconds: {{ int64 .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- with .Values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- include "pytorch.tplvalues.render" (dict "value" . "context" $) | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
pytorch.affinity.exclusive: the two required terms of exclusiveTopology, as YAML (use with
fromYaml): `sameDomain`, a pod affinity term that keeps every rank of this release in the domain
of the first one, and `otherReleases`, a pod anti-affinity term that keeps the pods of any other
release of this chart out of it (the scheduler also applies it the other way round).
Usage: {{ $terms := include "pytorch.affinity.exclusive" . | fromYaml }}
*/}}
{{- define "pytorch.affinity.exclusive" -}}
{{- $key := .Values.exclusiveTopology.topologyKey -}}
sameDomain:
  labelSelector:
    matchLabels:
      {{- include "pytorch.selectorLabels" . | nindent 6 }}
  topologyKey: {{ $key | quote }}
otherReleases:
  labelSelector:
    matchExpressions:
      - key: app.kubernetes.io/name
        operator: In
        values:
          - {{ include "pytorch.name" . | quote }}
      - key: app.kubernetes.io/instance
        operator: NotIn
        values:
          - {{ .Release.Name | quote }}
  topologyKey: {{ $key | quote }}
{{- end -}}
