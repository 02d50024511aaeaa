{{/*
Upgrades that Kubernetes cannot apply in place. The API server refuses to change a Job's pod
template or a StatefulSet's volumeClaimTemplates, and helm then prints the whole object as a Go
struct (over 10 KB on one line). These helpers look up the live object (`lookup` finds nothing
under `helm template` and client-side dry runs, so renders are unchanged) and, when the upgrade
would change such a field, fail before anything is sent, with one line that names the key and
the way out (README: "Upgrading").
*/}}

{{/*
pytorch.upgrade.jobChecksum: sha256 of what Kubernetes never changes in a created Job: its pod
template, and in `spec` the inputs of every other field the API server refuses to change
(completionMode and completions: distributed, with worldSize in the template; successPolicy; the
podFailurePolicy rules as rendered, faultTolerance.nonRetriableExitCodes' rule included). Only
parallelism, backoffLimit, activeDeadlineSeconds and ttlSecondsAfterFinished stay out: an update
may change them. The Job carries it as its checksum/pod-template annotation.
Usage: {{ include "pytorch.upgrade.jobChecksum" (dict "template" $template "spec" $immutable) }}
*/}}
{{- define "pytorch.upgrade.jobChecksum" -}}
{{- list .template .spec | toJson | sha256sum -}}
{{- end -}}

{{/*
pytorch.upgrade.checkJob: looks up the release's Job and checks it (pytorch.upgrade.compareJob).
Usage: {{ include "pytorch.upgrade.checkJob" (dict "checksum" $checksum "context" $) }}
*/}}
{{- define "pytorch.upgrade.checkJob" -}}
{{- $live := lookup "batch/v1" "Job" .context.Release.Namespace (include "pytorch.fullname" .context) -}}
{{- include "pytorch.upgrade.compareJob" (dict "live" $live "checksum" .checksum "context" .context) -}}
{{- end -}}

{{/*
pytorch.upgrade.compareJob: fails when the live Job `live` (empty: none) exists and its
checksum/pod-template annotation differs from `checksum` (a Job from a chart before 1.1.0 has
none; its pods differ from this chart's). A finished Job does not run again either: the way out
is to delete it.
Usage: {{ include "pytorch.upgrade.compareJob" (dict "live" $live "checksum" $checksum "context" $) }}
*/}}
{{- define "pytorch.upgrade.compareJob" -}}
{{- $ := .context -}}
{{- $name := include "pytorch.fullname" $ -}}
{{- $live := .live -}}
{{- if and $live (ne (dig "metadata" "annotations" "checksum/pod-template" "" $live) .checksum) -}}
{{- fail (printf "job.enabled: the Job %s exists and Kubernetes cannot change its pods (entrypoint, worldSize, image, env, resources...); delete it first: kubectl delete job -n %s %s, then upgrade again" $name $.Release.Namespace $name) -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.upgrade.checkStatefulSet: looks up the release's StatefulSet and checks it
(pytorch.upgrade.compareStatefulSet).
Usage: {{ include "pytorch.upgrade.checkStatefulSet" (dict "perRankClaims" $perRankClaims "context" $) }}
*/}}
{{- define "pytorch.upgrade.checkStatefulSet" -}}
{{- $live := lookup "apps/v1" "StatefulSet" .context.Release.Namespace (include "pytorch.fullname" .context) -}}
{{- include "pytorch.upgrade.compareStatefulSet" (dict "live" $live "perRankClaims" .perRankClaims "context" .context) -}}
{{- end -}}

{{/*
pytorch.upgrade.compareStatefulSet: fails when the live StatefulSet `live` (empty: none) exists
and its per-rank claim template would change: claims added or removed (persistence.enabled,
existingClaim or a shared accessMode), persistence.size, accessMode, storageClass or annotations.
Usage: {{ include "pytorch.upgrade.compareStatefulSet" (dict "live" $live "perRankClaims" $perRankClaims "context" $) }}
*/}}
{{- define "pytorch.upgrade.compareStatefulSet" -}}
{{- $ := .context -}}
{{- $name := include "pytorch.fullname" $ -}}
{{- $live := .live -}}
{{- if $live -}}
{{- $ns := $.Release.Namespace -}}
{{- $orphan := printf "kubectl delete statefulset -n %s %s --cascade=orphan (its pods keep running)" $ns $name -}}
{{- $claims := dig "spec" "volumeClaimTemplates" (list) $live -}}
{{- if ne (len $claims) (ternary 1 0 .perRankClaims) -}}
{{- $key := "persistence" -}}
{{- if not .perRankClaims -}}
{{- $key = ternary "persistence.enabled" (ternary "persistence.existingClaim" "persistence.accessMode" (not (empty $.Values.persistence.existingClaim))) (not $.Values.persistence.enabled) -}}
{{- end -}}
{{- if .perRankClaims -}}
{{- /* Pods adopted after --cascade=orphan would keep their volumes: the StatefulSet controller cannot add a claim to a pod. */ -}}
{{- fail (printf "%s: the StatefulSet %s has no per-rank claims and its volumeClaimTemplates cannot change; keep the old persistence values, or delete it (its pods start again, with claims): kubectl delete statefulset -n %s %s, then upgrade again" $key $name $ns $name) -}}
{{- end -}}
{{- fail (printf "%s: the StatefulSet %s has per-rank claims and its volumeClaimTemplates cannot change; keep the old persistence values, or %s, then upgrade again (claims made before stay, unused)" $key $name $orphan) -}}
{{- end -}}
{{- if .perRankClaims -}}
{{- $old := index $claims 0 -}}
{{- $want := include "pytorch.claimSpec" $ | fromYaml -}}
{{- $claim := printf "data-%s-<rank>" $name -}}
{{- $oldSize := toString (dig "spec" "resources" "requests" "storage" "" $old) -}}
{{- $oldModes := dig "spec" "accessModes" (list) $old -}}
{{- $oldClass := toString (dig "spec" "storageClassName" "" $old) -}}
{{- $oldAnnotations := dig "metadata" "annotations" (dict) $old -}}
{{- if not (include "pytorch.upgrade.sameQuantity" (list $oldSize $.Values.persistence.size)) -}}
{{- fail (printf "persistence.size: the StatefulSet %s's claims are %s and its volumeClaimTemplates cannot change; resize each claim (kubectl patch pvc -n %s %s -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"%s\"}}}}', if its StorageClass allows expansion), then %s, then upgrade again" $name $oldSize $ns $claim (toString $.Values.persistence.size) $orphan) -}}
{{- else if ne (toJson $oldModes) (toJson $want.accessModes) -}}
{{- fail (printf "persistence.accessMode: the StatefulSet %s's claims are %s and neither a claim nor volumeClaimTemplates can change it; keep %s, or delete the StatefulSet and its claims (their data goes): kubectl delete statefulset -n %s %s, kubectl delete pvc -n %s -l app.kubernetes.io/instance=%s, then upgrade again" $name (join "," $oldModes) (join "," $oldModes) $ns $name $ns $.Release.Name) -}}
{{- else if ne $oldClass (toString (default "" $want.storageClassName)) -}}
{{- fail (printf "persistence.storageClass: the StatefulSet %s's claims use %s and neither a claim nor volumeClaimTemplates can change it; keep it, or delete the StatefulSet and its claims (their data goes): kubectl delete statefulset -n %s %s, kubectl delete pvc -n %s -l app.kubernetes.io/instance=%s, then upgrade again" $name (ternary "the cluster's default StorageClass" (printf "the StorageClass %s" $oldClass) (empty $oldClass)) $ns $name $ns $.Release.Name) -}}
{{- else if ne (toJson $oldAnnotations) (toJson (default (dict) $.Values.persistence.annotations)) -}}
{{- $pairs := list -}}
{{- range $key, $value := $.Values.persistence.annotations -}}
{{- $pairs = append $pairs (printf "%s=%v" $key $value) -}}
{{- end -}}
{{- range $key, $value := $oldAnnotations -}}
{{- if not (hasKey (default (dict) $.Values.persistence.annotations) $key) }}{{ $pairs = append $pairs (printf "%s-" $key) }}{{ end -}}
{{- end -}}
{{- fail (printf "persistence.annotations: the StatefulSet %s's claim template cannot change; annotate each claim (kubectl annotate pvc -n %s %s --overwrite %s), then %s, then upgrade again" $name $ns $claim (join " " $pairs) $orphan) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.upgrade.sameQuantity: "true" when two Kubernetes quantities are the same amount; the API
server stores its canonical form (1.5Gi comes back as 1536Mi). A form this does not read (an
exponent) is compared as written.
Usage: {{ if include "pytorch.upgrade.sameQuantity" (list "1.5Gi" "1536Mi") }}
*/}}
{{- define "pytorch.upgrade.sameQuantity" -}}
{{- $units := dict "" 1.0 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 "m" 0.001 "k" 1000.0 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 -}}
{{- $amounts := list -}}
{{- range . -}}
{{- $q := toString . | trim -}}
{{- $number := regexFind "^[+]?([0-9]+[.]?[0-9]*|[.][0-9]+)" $q -}}
{{- $unit := trimPrefix $number $q -}}
{{- if and $number (hasKey $units $unit) -}}
{{- $amounts = append $amounts (mulf (float64 $number) (get $units $unit)) -}}
{{- else -}}
{{- $amounts = append $amounts $q -}}
{{- end -}}
{{- end -}}
{{- $a := index $amounts 0 -}}
{{- $b := index $amounts 1 -}}
{{- if and (kindIs "float64" $a) (kindIs "float64" $b) -}}
{{- /* The API server rounds a fraction of a byte up. */ -}}
{{- $diff := subf $a $b -}}
{{- if and (lt $diff 1.0) (gt $diff -1.0) }}true{{ end -}}
{{- else if eq (toString $a) (toString $b) }}true{{ end -}}
{{- end -}}
