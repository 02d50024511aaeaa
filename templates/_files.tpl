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
