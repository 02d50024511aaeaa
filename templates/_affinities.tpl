{{/*
pytorch.affinity.pod: a soft or hard pod (anti-)affinity term on this release's pods, per node.
Usage: {{ include "pytorch.affinity.pod" (dict "type" "soft" "context" $) }}
*/}}
{{- define "pytorch.affinity.pod" -}}
{{- $term := dict "labelSelector" (dict "matchLabels" (include "pytorch.selectorLabels" .context | fromYaml)) "topologyKey" "kubernetes.io/hostname" -}}
{{- if eq .type "soft" -}}
preferredDuringSchedulingIgnoredDuringExecution:
  - weight: 1
    podAffinityTerm:
      {{- toYaml $term | nindent 6 }}
{{- else if eq .type "hard" -}}
requiredDuringSchedulingIgnoredDuringExecution:
  {{- toYaml (list $term) | nindent 2 }}
{{- else -}}
{{- fail (printf "pytorch.affinity.pod: type must be soft or hard, got %q" .type) -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.affinity.node: a soft or hard node affinity on one label key and its values.
Usage: {{ include "pytorch.affinity.node" (dict "type" "hard" "key" "gpu" "values" (list "a100")) }}
*/}}
{{- define "pytorch.affinity.node" -}}
{{- $expr := dict "key" .key "operator" "In" "values" .values -}}
{{- if eq .type "soft" -}}
preferredDuringSchedulingIgnoredDuringExecution:
  - weight: 1
    preference:
      matchExpressions:
        {{- toYaml (list $expr) | nindent 8 }}
{{- else if eq .type "hard" -}}
requiredDuringSchedulingIgnoredDuringExecution:
  nodeSelectorTerms:
    - matchExpressions:
        {{- toYaml (list $expr) | nindent 8 }}
{{- else -}}
{{- fail (printf "pytorch.affinity.node: type must be soft or hard, got %q" .type) -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.affinity: the pod's affinity: `affinity` when set (as a template), else the presets plus
the required terms of exclusiveTopology. Prints nothing when there is none.
Usage: {{ include "pytorch.affinity" . }}
*/}}
{{- define "pytorch.affinity" -}}
{{- if .Values.affinity -}}
{{- include "pytorch.tplvalues.render" (dict "value" .Values.affinity "context" .) -}}
{{- else -}}
{{- $podAffinity := dict -}}
{{- with .Values.podAffinityPreset }}{{ $podAffinity = include "pytorch.affinity.pod" (dict "type" . "context" $) | fromYaml }}{{ end -}}
{{- $podAntiAffinity := dict -}}
{{- with .Values.podAntiAffinityPreset }}{{ $podAntiAffinity = include "pytorch.affinity.pod" (dict "type" . "context" $) | fromYaml }}{{ end -}}
{{- if .Values.exclusiveTopology.enabled -}}
{{- $terms := include "pytorch.affinity.exclusive" . | fromYaml -}}
{{- $required := "requiredDuringSchedulingIgnoredDuringExecution" -}}
{{- $_ := set $podAffinity $required (append (get $podAffinity $required | default list) $terms.sameDomain) -}}
{{- $_ := set $podAntiAffinity $required (append (get $podAntiAffinity $required | default list) $terms.otherReleases) -}}
{{- end -}}
{{- with $podAffinity }}
podAffinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $podAntiAffinity }}
podAntiAffinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeAffinityPreset }}
{{- if .type }}
nodeAffinity:
  {{- include "pytorch.affinity.node" (dict "type" .type "key" .key "values" .values) | nindent 2 }}
{{- end }}
{{- end }}
{{- end -}}
{{- end -}}
