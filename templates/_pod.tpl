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
  {{- $annotations := dict }}
  {{- if eq (include "pytorch.filesSource" $) "chart" }}
  {{- $_ := set $annotations "checksum/files" (include (print $.Template.BasePath "/configmap.yaml") $ | sha256sum) }}
  {{- end }}
  {{- with include "pytorch.annotations" (dict "extra" (merge $annotations $.Values.podAnnotations) "context" $) | trim }}{{ . | nindent 2 }}{{ end }}
spec:
  serviceAccountName: {{ include "pytorch.serviceAccountName" $ }}
  automountServiceAccountToken: {{ $.Values.serviceAccount.automountServiceAccountToken }}
  {{- with .restartPolicy }}
  restartPolicy: {{ . }}
  {{- end }}
  {{- with .subdomain }}
  subdomain: {{ . }}
  {{- end }}
  {{- with $.Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
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
    - name: pytorch
      image: {{ include "pytorch.image" (dict "image" $.Values.image "context" $) }}
      imagePullPolicy: {{ $.Values.image.pullPolicy }}
      {{- include "pytorch.command" $ | trim | nindent 6 }}
      {{- if include "pytorch.filesSource" $ }}
      workingDir: /app
      {{- end }}
      env:
        {{- include "pytorch.env" (dict "rank" .rank "context" $) | trim | nindent 8 }}
      ports:
        - name: dist
          containerPort: {{ $.Values.port }}
          protocol: TCP
      {{- with include "pytorch.probe" (dict "name" "livenessProbe" "probe" $.Values.livenessProbe "custom" $.Values.customLivenessProbe "context" $) | trim }}{{ . | nindent 6 }}{{ end }}
      {{- with include "pytorch.probe" (dict "name" "readinessProbe" "probe" $.Values.readinessProbe "custom" $.Values.customReadinessProbe "context" $) | trim }}{{ . | nindent 6 }}{{ end }}
      {{- with include "pytorch.resources" $ | trim }}{{ . | nindent 6 }}{{ end }}
      {{- with include "pytorch.containerSecurityContext" $ | trim }}{{ . | nindent 6 }}{{ end }}
      volumeMounts:
        {{- include "pytorch.volumeMounts" $ | nindent 8 }}
  volumes:
    {{- include "pytorch.volumes" (dict "perRankClaims" .perRankClaims "context" $) | nindent 4 }}
{{- end -}}
