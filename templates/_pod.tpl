{{/*
pytorch.podTemplate: the pod template shared by every workload kind.
Arguments: context; rank (see pytorch.env); perRankClaims (see pytorch.volumes);
restartPolicy (optional, Jobs); subdomain (optional, Indexed Jobs).
Usage: {{ include "pytorch.podTemplate" (dict "rank" (dict "value" "0") "perRankClaims" false "context" $) | nindent 4 }}
*/}}
{{- define "pytorch.podTemplate" -}}
{{- $ := .context -}}
metadata:
  labels:
    {{- include "pytorch.selectorLabels" $ | nindent 4 }}
    {{- with $.Values.commonLabels }}
    {{- include "pytorch.tplvalues.render" (dict "value" . "context" $) | nindent 4 }}
    {{- end }}
    {{- with $.Values.podLabels }}
    {{- include "pytorch.tplvalues.render" (dict "value" . "context" $) | nindent 4 }}
    {{- end }}
    {{- with include "pytorch.gang.podLabels" $ | trim }}{{ . | nindent 4 }}{{ end }}
  {{- $annotations := dict }}
  {{- if eq (include "pytorch.filesSource" $) "chart" }}
  {{- $_ := set $annotations "checksum/files" (include (print $.Template.BasePath "/configmap.yaml") $ | sha256sum) }}
  {{- end }}
  {{- if include "pytorch.programs.enabled" $ }}
  {{- $_ := set $annotations "checksum/programs" (include "pytorch.programs.data" $ | sha256sum) }}
  {{- end }}
  {{- $annotations = merge $annotations (include "pytorch.kueue.podAnnotations" $ | fromYaml) (include "pytorch.gang.podAnnotations" $ | fromYaml) }}
  {{- with include "pytorch.annotations" (dict "extra" (merge $annotations ($.Values.podAnnotations | default (dict))) "context" $) | trim }}{{ . | nindent 2 }}{{ end }}
spec:
  serviceAccountName: {{ include "pytorch.serviceAccountName" $ | quote }}
  automountServiceAccountToken: {{ $.Values.serviceAccount.automountServiceAccountToken }}
  {{- with .restartPolicy }}
  restartPolicy: {{ . }}
  {{- end }}
  {{- with .subdomain }}
  subdomain: {{ . }}
  {{- end }}
  {{- with $.Values.priorityClassName }}
  priorityClassName: {{ . | quote }}
  {{- end }}
  {{- with include "pytorch.placement" $ | trim }}{{ . | nindent 2 }}{{ end }}
  {{- with include "pytorch.gang.podSpec" $ | trim }}{{ . | nindent 2 }}{{ end }}
  {{- with include "pytorch.imagePullSecrets" $ | trim }}{{ . | nindent 2 }}{{ end }}
  {{- with $.Values.hostAliases }}
  hostAliases:
    {{- include "pytorch.tplvalues.render" (dict "value" . "context" $) | nindent 4 }}
  {{- end }}
  {{- with include "pytorch.affinity" $ | trim }}
  affinity:
    {{- . | nindent 4 }}
  {{- end }}
  {{- with $.Values.nodeSelector }}
  nodeSelector:
    {{- include "pytorch.tplvalues.render" (dict "value" . "context" $) | nindent 4 }}
  {{- end }}
  {{- with $.Values.tolerations }}
  tolerations:
    {{- include "pytorch.tplvalues.render" (dict "value" . "context" $) | nindent 4 }}
  {{- end }}
  {{- with include "pytorch.podSecurityContext" $ | trim }}{{ . | nindent 2 }}{{ end }}
  {{- with include "pytorch.initContainers" $ | trim }}{{ . | nindent 2 }}{{ end }}
  containers:
    {{- include "pytorch.container" (dict "rank" .rank "context" $) | nindent 4 }}
  volumes:
    {{- include "pytorch.volumes" (dict "perRankClaims" .perRankClaims "context" $) | nindent 4 }}
{{- end -}}
