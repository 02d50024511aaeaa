{{/*
pytorch.chartFiles: the chart files loaded into the files ConfigMap: top-level files under
files/, plus files/examples/* when examples.enabled. Returns a dict "base name" -> path,
as YAML (use with fromYaml).
Usage: {{ $files := include "pytorch.chartFiles" . | fromYaml }}
*/}}
{{- define "pytorch.chartFiles" -}}
{{- $files := dict -}}
{{- range $path, $_ := .Files.Glob "files/*" -}}
{{- $_ := set $files (base $path) $path -}}
{{- end -}}
{{- if .Values.examples.enabled -}}
{{- range $path, $_ := .Files.Glob "files/examples/*" -}}
{{- $_ := set $files (base $path) $path -}}
{{- end -}}
{{- end -}}
{{- toYaml $files -}}
{{- end -}}

{{/*
pytorch.filesSource: where the files mounted at /app come from, in the documented priority:
"configMap" (an existing ConfigMap), "chart" (files/ in the chart), "git" (cloneFilesFromGit),
or "" (no files).
Usage: {{ include "pytorch.filesSource" . }}
*/}}
{{- define "pytorch.filesSource" -}}
{{- if .Values.configMap -}}
configMap
{{- else if (include "pytorch.chartFiles" . | fromYaml) -}}
chart
{{- else if .Values.cloneFilesFromGit.enabled -}}
git
{{- end -}}
{{- end -}}

{{/*
pytorch.filesConfigMapName: the ConfigMap mounted at /app (an existing one or the chart's).
Usage: {{ include "pytorch.filesConfigMapName" . }}
*/}}
{{- define "pytorch.filesConfigMapName" -}}
{{- if .Values.configMap -}}
{{- tpl .Values.configMap . -}}
{{- else -}}
{{- printf "%s-files" (include "pytorch.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.entrypointFile: the Python file the container runs: entrypoint.file, or the example
script when examples.enabled and no file is given; empty means "sleep infinity".
Usage: {{ include "pytorch.entrypointFile" . }}
*/}}
{{- define "pytorch.entrypointFile" -}}
{{- if .Values.entrypoint.file -}}
{{- .Values.entrypoint.file -}}
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
{{- $args := .Values.entrypoint.args -}}
{{- if kindIs "string" $args -}}
{{- $args = compact (regexSplit "\\s+" (trim $args) -1) -}}
{{- end -}}
{{- $out := list -}}
{{- range $args }}{{ $out = append $out (toString .) }}{{ end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
pytorch.volumePermissions.enabled: "true" when the volume permissions init container runs
(it needs a data volume to fix).
Usage: {{ if eq (include "pytorch.volumePermissions.enabled" .) "true" }}
*/}}
{{- define "pytorch.volumePermissions.enabled" -}}
{{- if and .Values.volumePermissions.enabled .Values.persistence.enabled }}true{{ else }}false{{ end -}}
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
global.storageClass wins over persistence.storageClass; "-" means no dynamic provisioning.
Usage: {{ include "pytorch.storageClass" . }}
*/}}
{{- define "pytorch.storageClass" -}}
{{- $class := .Values.persistence.storageClass -}}
{{- with .Values.global.storageClass }}{{ $class = . }}{{ end -}}
{{- if eq $class "-" -}}
storageClassName: ""
{{- else if $class -}}
storageClassName: {{ $class | quote }}
{{- end -}}
{{- end -}}
