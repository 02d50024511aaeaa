{{/*
pytorch.validateValues: cross-field rules that values.schema.json cannot express. Every
broken rule is reported at once, each message naming its keys; rendering then fails.
Usage: {{ include "pytorch.validateValues" . }}
*/}}
{{- define "pytorch.validateValues" -}}
{{- $errors := list -}}
{{- $v := .Values -}}
{{- if and (eq $v.mode "distributed") (kindIs "invalid" $v.worldSize) -}}
{{- $errors = append $errors "worldSize: required when mode=distributed (the number of ranks, e.g. --set worldSize=4)" -}}
{{- end -}}
{{- if and (eq $v.mode "standalone") (not (kindIs "invalid" $v.worldSize)) (gt (int $v.worldSize) 1) -}}
{{- $errors = append $errors (printf "worldSize: %d ranks need mode=distributed; standalone runs a single process" (int $v.worldSize)) -}}
{{- end -}}
{{- if and $v.cloneFilesFromGit.enabled (not $v.cloneFilesFromGit.repository) -}}
{{- $errors = append $errors "cloneFilesFromGit.repository: required when cloneFilesFromGit.enabled=true" -}}
{{- end -}}
{{- with $v.nodeAffinityPreset -}}
{{- if and .type (or (not .key) (not .values)) -}}
{{- $errors = append $errors (printf "nodeAffinityPreset.key and nodeAffinityPreset.values: required when nodeAffinityPreset.type=%s" .type) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $v.podAffinityPreset "hard") (eq $v.podAntiAffinityPreset "hard") (not $v.affinity) -}}
{{- $errors = append $errors "podAffinityPreset and podAntiAffinityPreset: both are hard, so no two pods could ever be scheduled; make one of them soft or empty" -}}
{{- end -}}
{{- $file := include "pytorch.entrypointFile" . -}}
{{- if and (not $file) (include "pytorch.entrypointArgs" . | fromYamlArray) -}}
{{- $errors = append $errors "entrypoint.args: set, but entrypoint.file is empty, so nothing would receive them" -}}
{{- end -}}
{{- if and $file (not (isAbs $file)) (not (include "pytorch.filesSource" .)) -}}
{{- $errors = append $errors (printf "entrypoint.file: %q is relative to /app, but no files are loaded there (set configMap, add files under files/, set examples.enabled=true or cloneFilesFromGit.enabled=true, or give an absolute path)" $file) -}}
{{- end -}}
{{- $minAvailable := ternary "" (toString $v.pdb.minAvailable) (kindIs "invalid" $v.pdb.minAvailable) -}}
{{- $maxUnavailable := ternary "" (toString $v.pdb.maxUnavailable) (kindIs "invalid" $v.pdb.maxUnavailable) -}}
{{- if and (ne $minAvailable "") (ne $maxUnavailable "") -}}
{{- $errors = append $errors "pdb.minAvailable and pdb.maxUnavailable: set only one of them (a PodDisruptionBudget takes one)" -}}
{{- end -}}
{{- if and $v.volumePermissions.enabled (not $v.persistence.enabled) -}}
{{- $errors = append $errors "volumePermissions.enabled: needs persistence.enabled=true (there is no data volume to fix)" -}}
{{- end -}}
{{- if and $v.persistence.existingClaim (not $v.persistence.enabled) -}}
{{- $errors = append $errors "persistence.existingClaim: needs persistence.enabled=true" -}}
{{- end -}}
{{- $mount := clean $v.persistence.mountPath -}}
{{- range $reserved := list "/app" "/tmp" "/dev/shm" -}}
{{- if or (eq $mount $reserved) (hasPrefix (printf "%s/" $reserved) $mount) -}}
{{- $errors = append $errors (printf "persistence.mountPath: %s is inside %s, which the chart already mounts" $v.persistence.mountPath $reserved) -}}
{{- end -}}
{{- end -}}
{{- if $v.job.enabled -}}
{{- if not $file -}}
{{- $errors = append $errors "job.enabled: a Job runs to completion, so it needs entrypoint.file (or examples.enabled=true)" -}}
{{- end -}}
{{- if and (eq $v.mode "distributed") $v.persistence.enabled (ne (include "pytorch.persistence.shared" .) "true") -}}
{{- $errors = append $errors (printf "persistence.accessMode: an Indexed Job has no per-rank claims, so job.enabled with mode=distributed needs persistence.accessMode=ReadWriteMany, persistence.existingClaim, or persistence.enabled=false (got %s)" $v.persistence.accessMode) -}}
{{- end -}}
{{- end -}}
{{- if and $v.job.enabled $v.paused $v.kueue.queueName -}}
{{- $errors = append $errors (printf "paused: Kueue (kueue.queueName=%s) suspends and resumes this Job itself and would undo the chart's suspend; pause it through its Workload instead: kubectl patch workloads.kueue.x-k8s.io -n %s <name from kubectl get workloads -n %s> --type merge -p '{\"spec\":{\"active\":false}}' (true resumes), and leave paused=false" $v.kueue.queueName .Release.Namespace .Release.Namespace) -}}
{{- end -}}
{{- if and (gt (int $v.torchrun.nprocPerNode) 0) (ne $v.launcher "torchrun") -}}
{{- $errors = append $errors "torchrun.nprocPerNode: only applies with launcher=torchrun" -}}
{{- end -}}
{{- if and (eq $v.launcher "torchrun") (not $file) -}}
{{- $errors = append $errors "launcher: torchrun needs entrypoint.file (or examples.enabled=true) to launch" -}}
{{- end -}}
{{- if and $v.gangScheduling.enabled (ne $v.mode "distributed") -}}
{{- $errors = append $errors "gangScheduling.enabled: a gang needs mode=distributed (standalone runs one pod)" -}}
{{- end -}}
{{- if and $v.exclusiveTopology.enabled $v.affinity -}}
{{- $errors = append $errors "exclusiveTopology.enabled: affinity replaces every affinity the chart renders, so the exclusive terms would be lost; add them to affinity yourself or unset affinity" -}}
{{- end -}}
{{- with $v.kueue.topology -}}
{{- $modes := list -}}
{{- if .required }}{{ $modes = append $modes "required" }}{{ end -}}
{{- if .preferred }}{{ $modes = append $modes "preferred" }}{{ end -}}
{{- if .unconstrained }}{{ $modes = append $modes "unconstrained" }}{{ end -}}
{{- if gt (len $modes) 1 -}}
{{- $errors = append $errors (printf "kueue.topology: set one of required, preferred and unconstrained, not %s" (join " and " $modes)) -}}
{{- end -}}
{{- if ne (empty .sliceRequired) (kindIs "invalid" .sliceSize) -}}
{{- $errors = append $errors "kueue.topology.sliceRequired and kueue.topology.sliceSize: set both or neither" -}}
{{- end -}}
{{- end -}}
{{- if and $v.metrics.podMonitor.enabled (not $v.metrics.enabled) -}}
{{- $errors = append $errors "metrics.podMonitor.enabled: needs metrics.enabled=true (there is no metrics port to scrape)" -}}
{{- end -}}
{{- with $v.containerSecurityContext -}}
{{- if and .enabled .seccompProfile (eq (toString .seccompProfile.type) "Localhost") (not .seccompProfile.localhostProfile) -}}
{{- $errors = append $errors "containerSecurityContext.seccompProfile.localhostProfile: required when containerSecurityContext.seccompProfile.type=Localhost (the profile file on the node)" -}}
{{- end -}}
{{- end -}}
{{- range $key, $res := dict "resources" $v.resources "volumePermissions.resources" $v.volumePermissions.resources "tensorboard.resources" $v.tensorboard.resources -}}
{{- $res = $res | default (dict) -}}
{{- range $name, $qty := ($res.requests | default (dict)) -}}
{{- if and (contains "/" $name) (ne (toString $qty) (toString (get ($res.limits | default (dict)) $name))) -}}
{{- $errors = append $errors (printf "%s.requests.%s: an extended resource needs the same quantity in %s.limits.%s" $key $name $key $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $ports := dict "port" (int $v.port) -}}
{{- if $v.metrics.enabled }}{{ $_ := set $ports "metrics.port" (int $v.metrics.port) }}{{ end -}}
{{- if $v.tensorboard.enabled }}{{ $_ := set $ports "tensorboard.port" (int $v.tensorboard.port) }}{{ end -}}
{{- range $a, $pa := $ports -}}
{{- range $b, $pb := $ports -}}
{{- if and (lt $a $b) (eq $pa $pb) -}}
{{- $errors = append $errors (printf "%s and %s: both are %d; each port of the pod needs its own number" $a $b $pa) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $minNodes := int $v.faultTolerance.minNodes -}}
{{- if gt $minNodes 0 -}}
{{- if or (ne $v.launcher "torchrun") (not $v.faultTolerance.enabled) -}}
{{- $errors = append $errors "faultTolerance.minNodes: only applies with launcher=torchrun and faultTolerance.enabled=true (elastic rendezvous); set it to 0" -}}
{{- else if gt $minNodes (include "pytorch.worldSize" . | int) -}}
{{- $errors = append $errors (printf "faultTolerance.minNodes: %d is more than the %s pods of the run; set 1..%s, or 0 for a fixed size" $minNodes (include "pytorch.worldSize" .) (include "pytorch.worldSize" .)) -}}
{{- end -}}
{{- end -}}
{{- $maxNodes := int $v.faultTolerance.maxNodes -}}
{{- if gt $maxNodes 0 -}}
{{- if or (ne $v.launcher "torchrun") (not $v.faultTolerance.enabled) -}}
{{- $errors = append $errors "faultTolerance.maxNodes: only applies with launcher=torchrun and faultTolerance.enabled=true (elastic rendezvous); with launcher=python a worldSize change restarts every rank, so set it to 0" -}}
{{- else if or (ne $v.mode "distributed") $v.job.enabled -}}
{{- $errors = append $errors "faultTolerance.maxNodes: only a StatefulSet (mode=distributed without job.enabled) resizes in place; a Job's completions cannot change, so set it to 0" -}}
{{- else if gt (int $v.worldSize) $maxNodes -}}
{{- $errors = append $errors (printf "worldSize: %d is more than faultTolerance.maxNodes=%d, the most pods the ranks' rendezvous takes; raise faultTolerance.maxNodes too (every rank restarts once, with the new maximum), or keep worldSize at most %d" (int $v.worldSize) $maxNodes $maxNodes) -}}
{{- end -}}
{{- end -}}
{{- with $v.checkpoint.persistence -}}
{{- if and .existingClaim (not .enabled) -}}
{{- $errors = append $errors "checkpoint.persistence.existingClaim: needs checkpoint.persistence.enabled=true" -}}
{{- end -}}
{{- if and .enabled (not .existingClaim) (eq $v.mode "distributed") (gt (int $v.worldSize) 1) (ne .accessMode "ReadWriteMany") -}}
{{- $errors = append $errors (printf "checkpoint.persistence.accessMode: every rank mounts the one checkpoint claim, so mode=distributed with %d ranks needs ReadWriteMany or checkpoint.persistence.existingClaim (got %s)" (int $v.worldSize) .accessMode) -}}
{{- end -}}
{{- if .enabled -}}
{{- $path := clean .mountPath -}}
{{- range $reserved := list "/app" "/tmp" "/dev/shm" -}}
{{- if or (eq $path $reserved) (hasPrefix (printf "%s/" $reserved) $path) -}}
{{- $errors = append $errors (printf "checkpoint.persistence.mountPath: %s is inside %s, which the chart already mounts" $path $reserved) -}}
{{- end -}}
{{- end -}}
{{- if eq $path (clean $v.persistence.mountPath) -}}
{{- $errors = append $errors (printf "checkpoint.persistence.mountPath: %s is persistence.mountPath too; each volume needs its own path" $path) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* Volumes and mounts: names and paths the API server needs unique, mounts of a volume of the pod. */ -}}
{{- $volumeNames := list -}}
{{- range (include "pytorch.volumes" (dict "perRankClaims" false "context" .) | fromYamlArray) -}}
{{- if kindIs "map" . -}}
{{- if has (toString .name) $volumeNames -}}
{{- $errors = append $errors (printf "extraVolumes: the volume name %q is taken (the chart's volumes are tmp, shm, files, git-auth, data and checkpoints); each volume needs its own name" (toString .name)) -}}
{{- end -}}
{{- $volumeNames = append $volumeNames (toString .name) -}}
{{- end -}}
{{- end -}}
{{- $mountSets := dict "extraVolumeMounts" (list (include "pytorch.volumeMounts" . | fromYamlArray) $v.extraVolumeMounts) -}}
{{- if eq (include "pytorch.filesSource" .) "git" -}}
{{- $gitMounts := list (dict "mountPath" "/app") (dict "mountPath" "/tmp") -}}
{{- if $v.cloneFilesFromGit.existingSecret }}{{ $gitMounts = append $gitMounts (dict "mountPath" "/etc/git-auth") }}{{ end -}}
{{- $extra := include "pytorch.tplvalues.render" (dict "value" ($v.cloneFilesFromGit.extraVolumeMounts | default list) "context" .) | fromYamlArray -}}
{{- $_ := set $mountSets "cloneFilesFromGit.extraVolumeMounts" (list (concat $gitMounts $extra) $v.cloneFilesFromGit.extraVolumeMounts) -}}
{{- end -}}
{{- range $key, $set := $mountSets -}}
{{- $all := index $set 0 -}}
{{- $extra := include "pytorch.tplvalues.render" (dict "value" ((index $set 1) | default list) "context" $) | fromYamlArray -}}
{{- $own := sub (len $all) (len $extra) -}}
{{- $paths := list -}}
{{- range $i, $m := $all -}}
{{- if kindIs "map" $m -}}
{{- if ge $i $own -}}
{{- if not (has (toString $m.name) $volumeNames) -}}
{{- $errors = append $errors (printf "%s: the mount of %q names no volume of the pod (add the volume to extraVolumes)" $key (toString $m.name)) -}}
{{- end -}}
{{- if has (toString $m.mountPath) $paths -}}
{{- $errors = append $errors (printf "%s: the mountPath %s is mounted already in this container; each mount needs its own path" $key (toString $m.mountPath)) -}}
{{- end -}}
{{- end -}}
{{- $paths = append $paths (toString $m.mountPath) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "\n\nvalues are not valid:\n  - %s\n" (join "\n  - " $errors)) -}}
{{- end -}}
{{- end -}}
