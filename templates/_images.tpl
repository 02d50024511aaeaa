{{/*
pytorch.image: a full image reference from an image block; global.imageRegistry replaces
the registry, a digest replaces the tag.
Usage: {{ include "pytorch.image" (dict "image" .Values.image "context" $) }}
*/}}
{{- define "pytorch.image" -}}
{{- if not .image -}}
{{- fail "pytorch.image: missing argument 'image'" -}}
{{- end -}}
{{- $registry := .image.registry -}}
{{- with (.context.Values.global | default (dict)).imageRegistry }}{{ $registry = . }}{{ end -}}
{{- $ref := .image.repository -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $ref }}{{ end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (toString .image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.imagePullSecrets: the `imagePullSecrets:` block of a pod, from global.imagePullSecrets
and the pull secrets of every image the pod uses; each secret appears once. Items may be
names or {name: ...} objects.
Usage: {{ include "pytorch.imagePullSecrets" . }}
*/}}
{{- define "pytorch.imagePullSecrets" -}}
{{- $lists := list (.Values.global | default (dict)).imagePullSecrets .Values.image.pullSecrets -}}
{{- if eq (include "pytorch.filesSource" .) "git" -}}
{{- $lists = append $lists .Values.git.pullSecrets -}}
{{- end -}}
{{- if eq (include "pytorch.volumePermissions.enabled" .) "true" -}}
{{- $lists = append $lists .Values.volumePermissions.image.pullSecrets -}}
{{- end -}}
{{- if .Values.tensorboard.enabled -}}
{{- $lists = append $lists .Values.tensorboard.image.pullSecrets -}}
{{- end -}}
{{- $names := list -}}
{{- range $lists -}}
{{- range . -}}
{{- $name := . -}}
{{- if kindIs "map" . }}{{ $name = .name }}{{ end -}}
{{- $names = append $names (tpl (toString $name) $) -}}
{{- end -}}
{{- end -}}
{{- with ($names | uniq) }}
imagePullSecrets:
{{- range . }}
  - name: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}
