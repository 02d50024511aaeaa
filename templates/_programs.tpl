{{/*
The programs the chart runs inside the PyTorch container (files/programs/: the group-restart
supervisor, the launch wrapper, the heartbeat liveness probe). They ship, byte for byte the
same in every release, in the ConfigMap <fullname>-programs (configmap-programs.yaml), mounted
read-only at pytorch.programs.mountPath; values reach them as arguments, never by templating
their text. That ConfigMap is the chart's own whatever `configMap` says: the user's files and
the chart's programs never share one.
*/}}

{{/*
pytorch.programs.enabled: "true" when the container runs one of the chart's programs: the
supervisor (launcher=python with faultTolerance.enabled) or the launch wrapper and the liveness
probe (heartbeat.enabled); else empty.
Usage: {{ if include "pytorch.programs.enabled" . }}
*/}}
{{- define "pytorch.programs.enabled" -}}
{{- if or (and .Values.faultTolerance.enabled (eq .Values.launcher "python")) .Values.heartbeat.enabled -}}
true
{{- end -}}
{{- end -}}

{{/*
pytorch.programs.configMapName: the ConfigMap that holds the chart's programs.
Usage: {{ include "pytorch.programs.configMapName" . }}
*/}}
{{- define "pytorch.programs.configMapName" -}}
{{- printf "%s-programs" (include "pytorch.fullname" .) -}}
{{- end -}}

{{/*
pytorch.programs.mountPath: where the programs are mounted in the PyTorch container.
Usage: {{ include "pytorch.programs.mountPath" . }}
*/}}
{{- define "pytorch.programs.mountPath" -}}
/opt/pytorch-chart
{{- end -}}

{{/*
pytorch.programs.path: the path of program `name` (a file of files/programs/) in the container.
Usage: {{ include "pytorch.programs.path" (dict "name" "supervisor.sh" "context" $) }}
*/}}
{{- define "pytorch.programs.path" -}}
{{- if not (.context.Files.Get (printf "files/programs/%s" .name)) -}}
{{- fail (printf "pytorch.programs.path: no program files/programs/%s in the chart" .name) -}}
{{- end -}}
{{- printf "%s/%s" (include "pytorch.programs.mountPath" .context) .name -}}
{{- end -}}

{{/*
pytorch.programs.data: the ConfigMap's data, every file of files/programs/ under its base
name, as YAML (the same text for every release; its sha256 is the pods' checksum/programs).
Usage: {{ include "pytorch.programs.data" . }}
*/}}
{{- define "pytorch.programs.data" -}}
{{- $data := dict -}}
{{- range $key, $path := include "pytorch.programs.files" . | fromYaml -}}
{{- $_ := set $data $key ($.Files.Get $path) -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/*
pytorch.programs.files: every file under files/programs/, as a dict "ConfigMap key" -> path in
the chart (YAML); the key is the path below files/programs/ with "/" spelled "." (ConfigMap
keys hold no "/"), e.g. python.sitecustomize.py for python/sitecustomize.py.
Usage: {{ $files := include "pytorch.programs.files" . | fromYaml }}
*/}}
{{- define "pytorch.programs.files" -}}
{{- $files := dict -}}
{{- range $path, $_ := .Files.Glob "files/programs/**" -}}
{{- $_ := set $files (trimPrefix "files/programs/" $path | replace "/" ".") $path -}}
{{- end -}}
{{- toYaml $files -}}
{{- end -}}

{{/*
pytorch.programs.items: the programs volume's items, each ConfigMap key at its path below
files/programs/ (so python/sitecustomize.py is a folder of its own, fit for PYTHONPATH).
Usage: {{ include "pytorch.programs.items" . | nindent 4 }}
*/}}
{{- define "pytorch.programs.items" -}}
{{- $items := list -}}
{{- range $key, $path := include "pytorch.programs.files" . | fromYaml -}}
{{- $items = append $items (dict "key" $key "path" (trimPrefix "files/programs/" $path)) -}}
{{- end -}}
{{- toYaml $items -}}
{{- end -}}
