{{/*
pytorch.container: the PyTorch container, an item of the pod's `containers` list. `rank` says
where the rank comes from (see pytorch.env).
Usage: {{ include "pytorch.container" (dict "rank" (dict "value" "0") "context" $) | nindent 4 }}
*/}}
{{- define "pytorch.container" -}}
{{- $ := .context -}}
- name: pytorch
  image: {{ include "pytorch.image" (dict "image" $.Values.image "context" $) }}
  imagePullPolicy: {{ $.Values.image.pullPolicy }}
  {{- include "pytorch.command" $ | trim | nindent 2 }}
  {{- if include "pytorch.filesSource" $ }}
  workingDir: /app
  {{- end }}
  env:
    {{- include "pytorch.env" (dict "rank" .rank "context" $) | trim | nindent 4 }}
  ports:
    - name: dist
      containerPort: {{ $.Values.port }}
      protocol: TCP
    {{- with include "pytorch.metrics.port" $ | trim }}{{ . | nindent 4 }}{{ end }}
  {{- with include "pytorch.probe" (dict "name" "livenessProbe" "probe" $.Values.livenessProbe "custom" $.Values.customLivenessProbe "context" $) | trim }}{{ . | nindent 2 }}{{ end }}
  {{- with include "pytorch.probe" (dict "name" "readinessProbe" "probe" $.Values.readinessProbe "custom" $.Values.customReadinessProbe "context" $) | trim }}{{ . | nindent 2 }}{{ end }}
  {{- with include "pytorch.probe" (dict "name" "startupProbe" "probe" $.Values.startupProbe "custom" $.Values.customStartupProbe "context" $) | trim }}{{ . | nindent 2 }}{{ end }}
  {{- with include "pytorch.resources" $ | trim }}{{ . | nindent 2 }}{{ end }}
  {{- with include "pytorch.containerSecurityContext" $ | trim }}{{ . | nindent 2 }}{{ end }}
  volumeMounts:
    {{- include "pytorch.volumeMounts" $ | nindent 4 }}
{{- end -}}

{{/*
pytorch.command: the PyTorch container's command and args (an exec array): python <file>
<args...>, or torchrun <flags> [torchrun.extraArgs] <file> <args...> (flags from
pytorch.faultTolerance.torchrunArgs), or sleep infinity when there is no entrypoint. When
pytorch.faultTolerance.wrapper gives an `sh -c` wrapper, the whole line is the command.
Usage: {{ include "pytorch.command" . }}
*/}}
{{- define "pytorch.command" -}}
{{- $file := include "pytorch.entrypointFile" . -}}
{{- if $file }}
{{- $path := ternary $file (printf "/app/%s" $file) (isAbs $file) }}
{{- $launch := list "python" }}
{{- if eq .Values.launcher "torchrun" }}
{{- $launch = concat (list "torchrun") (include "pytorch.faultTolerance.torchrunArgs" . | fromYamlArray) }}
{{- range .Values.torchrun.extraArgs }}{{ $launch = append $launch (toString .) }}{{ end }}
{{- end }}
{{- $launch = concat $launch (list $path) (include "pytorch.entrypointArgs" . | fromYamlArray) }}
{{- $wrapper := include "pytorch.faultTolerance.wrapper" . | fromYamlArray }}
{{- if $wrapper }}
command:
  {{- toYaml (concat $wrapper $launch) | nindent 2 }}
{{- else if eq .Values.launcher "torchrun" }}
command:
  - torchrun
args:
  {{- toYaml (rest $launch) | nindent 2 }}
{{- else }}
command:
  {{- toYaml (slice $launch 0 2) | nindent 2 }}
{{- with (slice $launch 2) }}
args:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- else }}
command:
  - sleep
  - infinity
{{- end }}
{{- end -}}

{{/*
pytorch.entrypointFile: the Python file the container runs: entrypoint.file, or the example
script when examples.enabled and no file is given; empty means "sleep infinity".
Usage: {{ include "pytorch.entrypointFile" . }}
*/}}
{{- define "pytorch.entrypointFile" -}}
{{- $file := (.Values.entrypoint | default (dict)).file -}}
{{- if $file -}}
{{- $file -}}
{{- else if .Values.examples.enabled -}}
ddp_train.py
{{- end -}}
{{- end -}}

{{/*
pytorch.entrypointArgs: entrypoint.args as a YAML list: a list is kept item by item, a string
is split on whitespace.
Usage: {{ $args := include "pytorch.entrypointArgs" . | fromYamlArray }}
*/}}
{{- define "pytorch.entrypointArgs" -}}
{{- $args := (.Values.entrypoint | default (dict)).args | default (list) -}}
{{- if kindIs "string" $args -}}
{{- $args = compact (regexSplit "\\s+" (trim $args) -1) -}}
{{- end -}}
{{- $out := list -}}
{{- range $args }}{{ $out = append $out (toString .) }}{{ end -}}
{{- toYaml $out -}}
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
  value: {{ include "pytorch.nnodes" $ | quote }}
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
{{ include "pytorch.env.pytorchJob" (dict "rank" .rank "context" $) }}
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
  value: {{ ternary $.Values.checkpoint.persistence.mountPath $.Values.persistence.mountPath $.Values.checkpoint.persistence.enabled | quote }}
{{- include "pytorch.faultTolerance.env" $ }}
{{- if $.Values.metrics.enabled }}
- name: METRICS_PORT
  value: {{ $.Values.metrics.port | quote }}
- name: METRICS_PATH
  value: {{ $.Values.metrics.path | quote }}
{{- end }}
{{- if $.Values.tensorboard.enabled }}
- name: TENSORBOARD_LOG_DIR
  value: {{ include "pytorch.tensorboard.logDir" $ | quote }}
{{- end }}
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
{{- with include "pytorch.threadsPerProcess" $ }}
- name: OMP_NUM_THREADS
  value: {{ . | quote }}
{{- end }}
{{- range $name, $value := $.Values.torchEnv }}
- name: {{ $name | quote }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with $.Values.extraEnvVars }}
{{ include "pytorch.tplvalues.render" (dict "value" . "context" $) }}
{{- end }}
{{- end -}}

{{/*
pytorch.probe: one probe block (livenessProbe, readinessProbe or startupProbe): the custom probe
when given, else with heartbeat.enabled the heartbeat probe (pytorch.faultTolerance.probe; not for
startupProbe), else the default exec probe (checks that torch is installed without importing it);
`enabled: false` renders none.
Usage: {{ include "pytorch.probe" (dict "name" "livenessProbe" "probe" .Values.livenessProbe "custom" .Values.customLivenessProbe "context" $) }}
*/}}
{{- define "pytorch.probe" -}}
{{- if .custom }}
{{ .name }}:
  {{- include "pytorch.tplvalues.render" (dict "value" .custom "context" .context) | nindent 2 }}
{{- else if and .probe.enabled .context.Values.heartbeat.enabled (ne .name "startupProbe") }}
{{ .name }}:
  {{- include "pytorch.faultTolerance.probe" (dict "name" .name "context" .context) | nindent 2 }}
  {{- omit .probe "enabled" | toYaml | nindent 2 }}
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
pytorch.resources: the PyTorch container's resources: `resources` plus gpu.count GPUs as a limit.
Usage: {{ include "pytorch.resources" . }}
*/}}
{{- define "pytorch.resources" -}}
{{- $resources := deepCopy (.Values.resources | default (dict)) -}}
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
pytorch.threadsPerProcess: OMP_NUM_THREADS of each process in the PyTorch container (torch
also takes it for its intra-op threads), or empty to set none. threadsPerProcess when above
0; else the CPU limit divided by the processes per pod (torchrun.nprocPerNode with torchrun,
else 1), rounded down and at least 1; empty without a CPU limit, or when torchEnv or a list
item of extraEnvVars sets OMP_NUM_THREADS itself. Without it every process starts one thread
per host core, and several ranks on a node oversubscribe it.
Usage: {{ include "pytorch.threadsPerProcess" . }}
*/}}
{{- define "pytorch.threadsPerProcess" -}}
{{- if not (include "pytorch.userSetsEnv" (dict "name" "OMP_NUM_THREADS" "context" .)) -}}
{{- if gt (int .Values.threadsPerProcess) 0 -}}
{{- int .Values.threadsPerProcess -}}
{{- else -}}
{{- $cpu := dig "limits" "cpu" "" (default (dict) .Values.resources) | toString -}}
{{- if $cpu -}}
{{- $milli := 0 -}}
{{- if hasSuffix "m" $cpu -}}
{{- $milli = trimSuffix "m" $cpu | int -}}
{{- else -}}
{{- $milli = mulf (float64 $cpu) 1000 | int -}}
{{- end -}}
{{- $procs := 1 -}}
{{- if eq .Values.launcher "torchrun" }}{{ $procs = include "pytorch.nprocPerNode" . | int }}{{ end -}}
{{- max 1 (div $milli (mul 1000 $procs)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.userSetsEnv: "true" when torchEnv or a list item of extraEnvVars sets the variable
`name` itself (the chart then leaves that variable out), else empty.
Usage: {{ if include "pytorch.userSetsEnv" (dict "name" "OMP_NUM_THREADS" "context" $) }}
*/}}
{{- define "pytorch.userSetsEnv" -}}
{{- $ := .context -}}
{{- $name := .name -}}
{{- $own := hasKey ($.Values.torchEnv | default (dict)) $name -}}
{{- if kindIs "slice" $.Values.extraEnvVars -}}
{{- range $.Values.extraEnvVars }}{{ if and (kindIs "map" .) (eq (toString .name) $name) }}{{ $own = true }}{{ end }}{{ end -}}
{{- end -}}
{{- if $own }}true{{ end -}}
{{- end -}}
