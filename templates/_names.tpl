{{/*
pytorch.name: the chart name, or nameOverride.
Usage: {{ include "pytorch.name" . }}
*/}}
{{- define "pytorch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
pytorch.fullname: the prefix of every resource name. Truncated to 52 characters so that
"<fullname>-<ordinal>" pod names, "<fullname>-headless" and the StatefulSet's
controller-revision-hash label all stay valid 63-character DNS labels.
Usage: {{ include "pytorch.fullname" . }}
*/}}
{{- define "pytorch.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.chart: chart name and version, for the helm.sh/chart label.
Usage: {{ include "pytorch.chart" . }}
*/}}
{{- define "pytorch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
pytorch.headlessServiceName: the headless Service that gives every rank a stable DNS name.
Usage: {{ include "pytorch.headlessServiceName" . }}
*/}}
{{- define "pytorch.headlessServiceName" -}}
{{- printf "%s-headless" (include "pytorch.fullname" .) -}}
{{- end -}}

{{/*
pytorch.preflightName: the `helm test` preflight's ConfigMap and Services (distributed mode:
docs/preflight.md); the fullname is cut to 48 characters so that `<this>-pods`, a Service, stays
a DNS label of at most 63.
Usage: {{ include "pytorch.preflightName" . }}
*/}}
{{- define "pytorch.preflightName" -}}
{{- printf "%s-preflight" (include "pytorch.fullname" . | trunc 48 | trimSuffix "-") -}}
{{- end -}}

{{/*
pytorch.serviceAccountName: the ServiceAccount the pods run as.
Usage: {{ include "pytorch.serviceAccountName" . }}
*/}}
{{- define "pytorch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pytorch.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
