{{/*
pytorch.volumes: the pod's volumes. `perRankClaims` is true when the data volume comes from
a StatefulSet volumeClaimTemplate instead of a volume here.
Usage: {{ include "pytorch.volumes" (dict "perRankClaims" false "context" $) }}
*/}}
{{- define "pytorch.volumes" -}}
{{- $ := .context -}}
- name: tmp
  emptyDir: {}
{{- if $.Values.shm.enabled }}
- name: shm
  emptyDir:
    medium: Memory
    sizeLimit: {{ $.Values.shm.sizeLimit }}
{{- end }}
{{- $source := include "pytorch.filesSource" $ }}
{{- if has $source (list "configMap" "chart") }}
- name: files
  configMap:
    name: {{ include "pytorch.filesConfigMapName" $ | quote }}
{{- else if eq $source "git" }}
- name: files
  emptyDir: {}
{{- with $.Values.cloneFilesFromGit.existingSecret }}
- name: git-auth
  secret:
    secretName: {{ . }}
    # Readable by the pod's group (fsGroup) only; root owns the files, so ssh accepts the key.
    defaultMode: 0440
{{- end }}
{{- end }}
{{- if not $.Values.persistence.enabled }}
- name: data
  emptyDir: {}
{{- else if not .perRankClaims }}
- name: data
  persistentVolumeClaim:
    claimName: {{ default (include "pytorch.fullname" $) $.Values.persistence.existingClaim | quote }}
{{- end }}
{{- if $.Values.checkpoint.persistence.enabled }}
- name: checkpoints
  persistentVolumeClaim:
    claimName: {{ include "pytorch.checkpoint.claimName" $ }}
{{- end }}
{{- if include "pytorch.programs.enabled" $ }}
- name: programs
  configMap:
    name: {{ include "pytorch.programs.configMapName" $ | quote }}
    items:
      {{- include "pytorch.programs.items" $ | nindent 6 }}
{{- end }}
{{- with $.Values.extraVolumes }}
{{ include "pytorch.tplvalues.render" (dict "value" . "context" $) }}
{{- end }}
{{- end -}}

{{/*
pytorch.volumeMounts: the PyTorch container's volume mounts.
Usage: {{ include "pytorch.volumeMounts" . }}
*/}}
{{- define "pytorch.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.shm.enabled }}
- name: shm
  mountPath: /dev/shm
{{- end }}
{{- if include "pytorch.filesSource" . }}
- name: files
  mountPath: /app
{{- end }}
- name: data
  mountPath: {{ .Values.persistence.mountPath }}
{{- if eq .Values.persistence.accessMode "ReadOnlyMany" }}
  readOnly: true
{{- end }}
{{- if .Values.checkpoint.persistence.enabled }}
- name: checkpoints
  mountPath: {{ .Values.checkpoint.persistence.mountPath }}
{{- end }}
{{- if include "pytorch.programs.enabled" . }}
- name: programs
  mountPath: {{ include "pytorch.programs.mountPath" . }}
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ include "pytorch.tplvalues.render" (dict "value" . "context" $) }}
{{- end }}
{{- end -}}

{{/*
pytorch.persistence.shared: "true" when every rank mounts one claim (an existing claim, or a
ReadWriteMany/ReadOnlyMany access mode); otherwise each distributed rank gets its own claim.
Usage: {{ if eq (include "pytorch.persistence.shared" .) "true" }}
*/}}
{{- define "pytorch.persistence.shared" -}}
{{- if or .Values.persistence.existingClaim (has .Values.persistence.accessMode (list "ReadWriteMany" "ReadOnlyMany")) }}true{{ else }}false{{ end -}}
{{- end -}}

{{/*
pytorch.storageClass: the storageClassName line of a claim, or nothing for the cluster default.
global.storageClass wins over the claim's own `class` (persistence.storageClass,
checkpoint.persistence.storageClass); "-" means no dynamic provisioning.
Usage: {{ include "pytorch.storageClass" (dict "class" .Values.persistence.storageClass "context" $) }}
*/}}
{{- define "pytorch.storageClass" -}}
{{- $class := .class -}}
{{- with (.context.Values.global | default (dict)).storageClass }}{{ $class = . }}{{ end -}}
{{- if eq $class "-" -}}
storageClassName: ""
{{- else if $class -}}
storageClassName: {{ $class | quote }}
{{- end -}}
{{- end -}}

{{/*
pytorch.claimSpec: the spec of a data claim: the claim of the standalone pod, the claim every
rank shares, or the StatefulSet's per-rank claim template.
Usage: {{ include "pytorch.claimSpec" . | nindent 2 }}
*/}}
{{- define "pytorch.claimSpec" -}}
accessModes:
  - {{ .Values.persistence.accessMode }}
{{- with include "pytorch.storageClass" (dict "class" .Values.persistence.storageClass "context" .) }}
{{ . }}
{{- end }}
resources:
  requests:
    storage: {{ .Values.persistence.size | quote }}
{{- end -}}
