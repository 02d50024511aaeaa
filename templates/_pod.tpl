{{/*
pytorch.podSecurityContext: the pod's securityContext block, or nothing when disabled.
Usage: {{ include "pytorch.podSecurityContext" . }}
*/}}
{{- define "pytorch.podSecurityContext" -}}
{{- with .Values.securityContext }}
{{- if .enabled }}
securityContext:
  runAsUser: {{ .runAsUser }}
  runAsGroup: {{ .runAsGroup }}
  fsGroup: {{ .fsGroup }}
  fsGroupChangePolicy: {{ .fsGroupChangePolicy }}
  runAsNonRoot: {{ ne (int .runAsUser) 0 }}
  seccompProfile:
    type: RuntimeDefault
{{- end }}
{{- end }}
{{- end -}}

{{/*
pytorch.containerSecurityContext: a container's securityContext block, or nothing when disabled.
Usage: {{ include "pytorch.containerSecurityContext" . }}
*/}}
{{- define "pytorch.containerSecurityContext" -}}
{{- if .Values.containerSecurityContext.enabled }}
securityContext:
  {{- omit .Values.containerSecurityContext "enabled" | toYaml | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
pytorch.probe: one probe block (livenessProbe or readinessProbe): the custom probe when given,
else the default exec probe (checks that torch is installed without importing it).
Usage: {{ include "pytorch.probe" (dict "name" "livenessProbe" "probe" .Values.livenessProbe "custom" .Values.customLivenessProbe "context" $) }}
*/}}
{{- define "pytorch.probe" -}}
{{- if .custom }}
{{ .name }}:
  {{- include "pytorch.tplvalues.render" (dict "value" .custom "context" .context) | nindent 2 }}
{{- else if .probe.enabled }}
{{ .name }}:
  exec:
    command:
      - python
      - -c
      - "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"
  {{- omit .probe "enabled" | toYaml | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
pytorch.env: the PyTorch container's environment. The rank comes from `rank`: a dict with
either "value" (a fixed rank) or "fieldPath" (read from the pod, e.g. the StatefulSet ordinal).
Usage: {{ include "pytorch.env" (dict "rank" (dict "value" "0") "context" $) }}
*/}}
{{- define "pytorch.env" -}}
{{- $ := .context -}}
{{- $rankName := ternary "NODE_RANK" "RANK" (eq $.Values.launcher "torchrun") -}}
{{- if eq $.Values.launcher "torchrun" }}
- name: NNODES
  value: {{ include "pytorch.worldSize" $ | quote }}
- name: NPROC_PER_NODE
  value: {{ include "pytorch.nprocPerNode" $ | quote }}
{{- else }}
- name: WORLD_SIZE
  value: {{ include "pytorch.worldSize" $ | quote }}
- name: LOCAL_RANK
  value: "0"
{{- end }}
- name: {{ $rankName }}
{{- if hasKey .rank "fieldPath" }}
  valueFrom:
    fieldRef:
      fieldPath: {{ .rank.fieldPath }}
{{- else }}
  value: {{ .rank.value | quote }}
{{- end }}
- name: MASTER_ADDR
  value: {{ include "pytorch.masterAddress" $ | quote }}
- name: MASTER_PORT
  value: {{ $.Values.port | quote }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: HOME
  value: /tmp
- name: XDG_CACHE_HOME
  value: /tmp/.cache
- name: PYTHONUNBUFFERED
  value: "1"
- name: PYTHONDONTWRITEBYTECODE
  value: "1"
- name: CHECKPOINT_DIR
  value: {{ $.Values.persistence.mountPath | quote }}
{{- if $.Values.image.debug }}
- name: TORCH_DISTRIBUTED_DEBUG
  value: DETAIL
- name: TORCH_CPP_LOG_LEVEL
  value: INFO
- name: NCCL_DEBUG
  value: INFO
- name: LOGLEVEL
  value: DEBUG
- name: PYTHONFAULTHANDLER
  value: "1"
{{- end }}
{{- range $name, $value := $.Values.torchEnv }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with $.Values.extraEnvVars }}
{{ include "pytorch.tplvalues.render" (dict "value" . "context" $) }}
{{- end }}
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
pytorch.resources: the PyTorch container's resources: `resources` plus gpu.count GPUs as a limit.
Usage: {{ include "pytorch.resources" . }}
*/}}
{{- define "pytorch.resources" -}}
{{- $resources := deepCopy .Values.resources -}}
{{- if gt (int .Values.gpu.count) 0 -}}
{{- $limits := default (dict) $resources.limits -}}
{{- $_ := set $limits .Values.gpu.resourceName (int .Values.gpu.count) -}}
{{- $_ := set $resources "limits" $limits -}}
{{- end -}}
{{- with $resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
pytorch.worldSize: the number of ranks: worldSize in distributed mode, 1 in standalone mode.
Usage: {{ include "pytorch.worldSize" . }}
*/}}
{{- define "pytorch.worldSize" -}}
{{- if eq .Values.mode "distributed" }}{{ int .Values.worldSize }}{{ else }}1{{ end -}}
{{- end -}}

{{/*
pytorch.command: the PyTorch container's command and args (an exec array, no shell):
python <file> <args...>, or sleep infinity when there is no entrypoint.
Usage: {{ include "pytorch.command" . }}
*/}}
{{- define "pytorch.command" -}}
{{- $file := include "pytorch.entrypointFile" . -}}
{{- if $file }}
{{- $path := ternary $file (printf "/app/%s" $file) (isAbs $file) }}
{{- if eq .Values.launcher "torchrun" }}
command:
  - torchrun
args:
  - --nnodes=$(NNODES)
  - --nproc-per-node=$(NPROC_PER_NODE)
  - --node-rank=$(NODE_RANK)
  - --master-addr=$(MASTER_ADDR)
  - --master-port=$(MASTER_PORT)
  {{- range .Values.torchrun.extraArgs }}
  - {{ . | toString | quote }}
  {{- end }}
  - {{ $path | quote }}
  {{- range (include "pytorch.entrypointArgs" . | fromYamlArray) }}
  - {{ . | quote }}
  {{- end }}
{{- else }}
command:
  - python
  - {{ $path | quote }}
{{- with (include "pytorch.entrypointArgs" . | fromYamlArray) }}
args:
  {{- range . }}
  - {{ . | quote }}
  {{- end }}
{{- end }}
{{- end }}
{{- else }}
command:
  - sleep
  - infinity
{{- end }}
{{- end -}}

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
    name: {{ include "pytorch.filesConfigMapName" $ }}
{{- else if eq $source "git" }}
- name: files
  emptyDir: {}
{{- end }}
{{- if not $.Values.persistence.enabled }}
- name: data
  emptyDir: {}
{{- else if not .perRankClaims }}
- name: data
  persistentVolumeClaim:
    claimName: {{ default (include "pytorch.fullname" $) $.Values.persistence.existingClaim }}
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
{{- with .Values.extraVolumeMounts }}
{{ include "pytorch.tplvalues.render" (dict "value" . "context" $) }}
{{- end }}
{{- end -}}

{{/*
pytorch.initContainers: the `initContainers:` block: volume permissions and git clone, or nothing.
Usage: {{ include "pytorch.initContainers" . }}
*/}}
{{- define "pytorch.initContainers" -}}
{{- $permissions := eq (include "pytorch.volumePermissions.enabled" .) "true" -}}
{{- $git := eq (include "pytorch.filesSource" .) "git" -}}
{{- if or $permissions $git }}
initContainers:
{{- if $permissions }}
  - name: volume-permissions
    image: {{ include "pytorch.image" (dict "image" .Values.volumePermissions.image "context" $) }}
    imagePullPolicy: {{ .Values.volumePermissions.image.pullPolicy }}
    command:
      - /bin/sh
      - -ec
      - chown -R "$OWNER" "$DATA_DIR"
    env:
      - name: OWNER
        value: "{{ .Values.securityContext.runAsUser }}:{{ .Values.securityContext.fsGroup }}"
      - name: DATA_DIR
        value: {{ .Values.persistence.mountPath | quote }}
    securityContext:
      runAsUser: 0
      runAsNonRoot: false
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop:
          - ALL
        add:
          - CHOWN
          - DAC_OVERRIDE
          - FOWNER
      seccompProfile:
        type: RuntimeDefault
    {{- with .Values.volumePermissions.resources }}
    resources:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    volumeMounts:
      - name: data
        mountPath: {{ .Values.persistence.mountPath }}
{{- end }}
{{- if $git }}
  - name: git-clone
    image: {{ include "pytorch.image" (dict "image" .Values.git "context" $) }}
    imagePullPolicy: {{ .Values.git.pullPolicy }}
    command:
      - /bin/sh
      - -ec
      - |
        git config --global --add safe.directory /app
        git init -q /app
        git -C /app remote add origin "$GIT_REPOSITORY"
        git -C /app fetch -q --depth 1 origin "$GIT_REVISION"
        git -C /app checkout -q FETCH_HEAD
    env:
      - name: GIT_REPOSITORY
        value: {{ tpl .Values.cloneFilesFromGit.repository $ | quote }}
      - name: GIT_REVISION
        value: {{ .Values.cloneFilesFromGit.revision | quote }}
      - name: HOME
        value: /tmp
    {{- with include "pytorch.containerSecurityContext" . | trim }}{{ . | nindent 4 }}{{ end }}
    volumeMounts:
      - name: files
        mountPath: /app
      - name: tmp
        mountPath: /tmp
      {{- with .Values.cloneFilesFromGit.extraVolumeMounts }}
      {{- include "pytorch.tplvalues.render" (dict "value" . "context" $) | nindent 6 }}
      {{- end }}
{{- end }}
{{- end }}
{{- end -}}

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
