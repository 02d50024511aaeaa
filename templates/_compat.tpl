{{/*
pytorch.compat: values files written for the Bitnami PyTorch chart 4.x (docs/values-compat.md has
the table). Each 4.x key is read into this chart's own key; a 4.x key this chart has no equivalent
for is refused in one line that says what to use instead, unless it holds a value that means what
this chart does anyway (its 4.x default, mostly); a 4.x key and this chart's key set to different
values are refused, naming both (this chart's key counts as set when it is not at its default).
Every 4.x key is then dropped from .Values: the templates read only this chart's keys, and a
second call finds nothing to do. Every template calls it first (tests/unit/test_compat.py); the
work (pytorch.compat.read) is done only where there is some, so a render without 4.x keys costs
next to nothing.
Usage: {{- include "pytorch.compat" . -}}
*/}}
{{- define "pytorch.compat" -}}
{{- $v := .Values -}}
{{- $top := list "architecture" "containerPorts" "existingConfigmap" "podSecurityContext" "automountServiceAccountToken" "resourcesPreset" "kubeVersion" "extraDeploy" "diagnosticMode" "command" "args" "lifecycleHooks" "extraEnvVarsCM" "extraEnvVarsSecret" "sidecars" "initContainers" "updateStrategy" "podManagementPolicy" -}}
{{- $nested := dict
  "global" (list "compatibility")
  "service" (list "ports" "nodePorts" "clusterIP" "loadBalancerIP" "loadBalancerSourceRanges" "externalTrafficPolicy" "extraPorts" "sessionAffinity" "sessionAffinityConfig" "headless")
  "networkPolicy" (list "ingressNSMatchLabels" "ingressNSPodMatchLabels")
  "persistence" (list "accessModes" "subPath" "selector" "dataSource")
  "volumePermissions" (list "resourcesPreset")
-}}
{{- $found := or (and $v.cloneFilesFromGit.enabled (eq (toString $v.cloneFilesFromGit.revision) "")) (kindIs "string" $v.terminationGracePeriodSeconds) -}}
{{- range $top }}{{ if hasKey $v . }}{{ $found = true }}{{ end }}{{ end -}}
{{- range $map, $keys := $nested -}}
{{- $m := index $v $map -}}
{{- if kindIs "map" $m }}{{ range $keys }}{{ if hasKey $m . }}{{ $found = true }}{{ end }}{{ end }}{{ end -}}
{{- end -}}
{{- if $found -}}
{{- include "pytorch.compat.read" . -}}
{{- range $top }}{{ $_ := unset $v . }}{{ end -}}
{{- range $map, $keys := $nested -}}
{{- $m := index $v $map -}}
{{- if kindIs "map" $m }}{{ range $keys }}{{ $_ := unset $m . }}{{ end }}{{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.compat.read: pytorch.compat's work: reads the 4.x keys into this chart's, and fails with
every refusal at once (validateValues style, one line each).
Usage: {{ include "pytorch.compat.read" . }}
*/}}
{{- define "pytorch.compat.read" -}}
{{- $v := .Values -}}
{{- $errors := list -}}
{{- $defaults := include "pytorch.compat.defaults" . | fromYaml -}}
{{- /* Renamed keys: (4.x key, this chart's key, the 4.x value, the map holding this chart's key, its name
there, the 4.x value as the user wrote it). */ -}}
{{- $podSecurity := $v.podSecurityContext | default (dict) -}}
{{- $accessModes := $v.persistence.accessModes | default (list) -}}
{{- if gt (len $accessModes) 1 -}}
{{- $errors = append $errors "persistence.accessModes: this chart's claims take one access mode; set persistence.accessMode" -}}
{{- end -}}
{{- $renames := list
  (list "architecture" "mode" $v.architecture $v "mode")
  (list "containerPorts.pytorch" "port" ($v.containerPorts | default (dict)).pytorch $v "port")
  (list "existingConfigmap" "configMap" $v.existingConfigmap $v "configMap")
  (list "podSecurityContext.enabled" "securityContext.enabled" $podSecurity.enabled $v.securityContext "enabled")
  (list "podSecurityContext.fsGroup" "securityContext.fsGroup" $podSecurity.fsGroup $v.securityContext "fsGroup")
  (list "podSecurityContext.fsGroupChangePolicy" "securityContext.fsGroupChangePolicy" $podSecurity.fsGroupChangePolicy $v.securityContext "fsGroupChangePolicy")
  (list "persistence.accessModes" "persistence.accessMode" (ternary (first $accessModes) nil (eq (len $accessModes) 1)) $v.persistence "accessMode" $accessModes)
  (list "automountServiceAccountToken" "serviceAccount.automountServiceAccountToken" $v.automountServiceAccountToken $v.serviceAccount "automountServiceAccountToken")
-}}
{{- range $renames -}}
{{- $old := index . 0 -}}
{{- $new := index . 1 -}}
{{- $value := index . 2 -}}
{{- $into := index . 3 -}}
{{- $key := index . 4 -}}
{{- $written := $value -}}
{{- if eq (len .) 6 }}{{ $written = index . 5 }}{{ end -}}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") -}}
{{- $current := index $into $key -}}
{{- if and (ne (toString $current) (toString (index $defaults $new))) (ne (toString $current) (toString $value)) -}}
{{- $errors = append $errors (printf "%s and %s: %s=%v but %s=%v; set one of them (%s is the Bitnami 4.x name of %s)" $old $new $old $written $new $current $old $new) -}}
{{- else -}}
{{- $_ := set $into $key $value -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* validateValues says "mode=distributed": name the key the user wrote instead. */ -}}
{{- if and (eq (toString $v.architecture) "distributed") (kindIs "invalid" $v.worldSize) -}}
{{- $errors = append $errors "architecture: distributed needs worldSize (the number of ranks, e.g. --set worldSize=4)" -}}
{{- end -}}
{{- /* The Services listen on the master port itself. */ -}}
{{- $servicePort := ($v.service.ports | default (dict)).pytorch -}}
{{- if and (not (kindIs "invalid" $servicePort)) (ne (toString $servicePort) "") (ne (toString $servicePort) (toString $v.port)) -}}
{{- $errors = append $errors (printf "service.ports.pytorch and port: the Service port %v is not the master port %v; this chart's Services listen on the master port (port, or containerPorts.pytorch): set both to one number" $servicePort $v.port) -}}
{{- end -}}
{{- /* resourcesPreset: Bitnami's preset resources, ignored when resources are set (as in 4.x). */ -}}
{{- $presets := include "pytorch.compat.resourcesPresets" . | fromYaml -}}
{{- range list (list $v.resourcesPreset $v) (list $v.volumePermissions.resourcesPreset $v.volumePermissions) -}}
{{- $preset := index . 0 | default "none" -}}
{{- if and (ne $preset "none") (not (index (index . 1) "resources")) -}}
{{- $_ := set (index . 1) "resources" (get $presets $preset) -}}
{{- end -}}
{{- end -}}
{{- /* 4.x keys with no equivalent: accepted empty (or false), refused otherwise. */ -}}
{{- $diagnostic := $v.diagnosticMode | default (dict) -}}
{{- $service := $v.service -}}
{{- $refused := list
  (list "kubeVersion" $v.kubeVersion "this chart reads the cluster's Kubernetes version; use helm's --kube-version flag instead")
  (list "extraDeploy" $v.extraDeploy "this chart deploys no objects of yours; apply them with kubectl, or from a chart of your own that depends on this one")
  (list "diagnosticMode.enabled" $diagnostic.enabled "use entrypoint.file=\"\" (the container then runs sleep infinity) with livenessProbe.enabled=false and readinessProbe.enabled=false")
  (list "command" $v.command "use entrypoint.file and entrypoint.args (the chart builds the command: python, or torchrun with launcher=torchrun)")
  (list "args" $v.args "use entrypoint.args")
  (list "lifecycleHooks" $v.lifecycleHooks "this chart sets no container lifecycle hooks; handle SIGTERM in the script (terminationGracePeriodSeconds gives it time to save a checkpoint)")
  (list "extraEnvVarsCM" $v.extraEnvVarsCM "use extraEnvVars items with valueFrom.configMapKeyRef, one per variable")
  (list "extraEnvVarsSecret" $v.extraEnvVarsSecret "use extraEnvVars items with valueFrom.secretKeyRef, one per variable")
  (list "sidecars" $v.sidecars "this chart runs no containers of yours beside PyTorch (TensorBoard: tensorboard.enabled=true); leave it empty")
  (list "initContainers" $v.initContainers "load files with configMap or cloneFilesFromGit, and fix the data volume's owner with volumePermissions.enabled=true")
  (list "podSecurityContext.sysctls" $podSecurity.sysctls "this chart sets no pod sysctls; set them on the nodes instead")
  (list "podSecurityContext.supplementalGroups" $podSecurity.supplementalGroups "this chart gives the pods one group, securityContext.fsGroup (it owns the mounted volumes); use it instead")
  (list "service.nodePorts.pytorch" ($service.nodePorts | default (dict)).pytorch "Kubernetes picks the node port of this chart's Services; leave it empty")
  (list "service.clusterIP" $service.clusterIP "Kubernetes assigns the Service's address; leave it empty")
  (list "service.loadBalancerIP" $service.loadBalancerIP "ask your cloud for the address with service.annotations instead")
  (list "service.loadBalancerSourceRanges" $service.loadBalancerSourceRanges "restrict clients with networkPolicy.allowExternal=false and networkPolicy.extraIngress instead")
  (list "service.extraPorts" $service.extraPorts "the master Service exposes the master port only (metrics: metrics.enabled, TensorBoard: tensorboard.service); leave it empty")
  (list "service.sessionAffinityConfig" $service.sessionAffinityConfig "the master Service selects one pod, so affinity changes nothing; leave it empty")
  (list "service.headless.annotations" ($service.headless | default (dict)).annotations "use commonAnnotations (the headless Service carries those)")
  (list "networkPolicy.ingressNSMatchLabels" $v.networkPolicy.ingressNSMatchLabels "use networkPolicy.extraIngress with a from: namespaceSelector rule")
  (list "networkPolicy.ingressNSPodMatchLabels" $v.networkPolicy.ingressNSPodMatchLabels "use networkPolicy.extraIngress with a from: namespaceSelector and podSelector rule")
  (list "persistence.subPath" $v.persistence.subPath "mount the claim yourself with extraVolumes and extraVolumeMounts (subPath), with persistence.enabled=false")
  (list "persistence.selector" $v.persistence.selector "create the claim yourself and set persistence.existingClaim")
  (list "persistence.dataSource" $v.persistence.dataSource "create the claim yourself and set persistence.existingClaim")
-}}
{{- range $refused -}}
{{- if not (empty (index . 1)) -}}
{{- $errors = append $errors (printf "%s: %s" (index . 0) (index . 2)) -}}
{{- end -}}
{{- end -}}
{{- /* 4.x keys whose 4.x default (or Kubernetes' default) is what this chart does: refused otherwise. */ -}}
{{- $update := ($v.updateStrategy | default (dict)).type | default "RollingUpdate" -}}
{{- if ne $update "RollingUpdate" -}}
{{- $errors = append $errors "updateStrategy.type: the chart picks the update strategy (RollingUpdate; Recreate for a standalone Deployment with a ReadWriteOnce claim); leave it RollingUpdate" -}}
{{- end -}}
{{- if ne ($service.externalTrafficPolicy | default "Cluster") "Cluster" -}}
{{- $errors = append $errors "service.externalTrafficPolicy: this chart keeps Kubernetes' default, Cluster; leave it Cluster" -}}
{{- end -}}
{{- if ne ($service.sessionAffinity | default "None") "None" -}}
{{- $errors = append $errors "service.sessionAffinity: the master Service selects one pod, so affinity changes nothing; leave it None" -}}
{{- end -}}
{{- $compatibility := ($v.global | default (dict)).compatibility | default (dict) -}}
{{- $openshift := ($compatibility.openshift | default (dict)).adaptSecurityContext | default "disabled" -}}
{{- if or (eq $openshift "force") (and (eq $openshift "auto") (.Capabilities.APIVersions.Has "security.openshift.io/v1")) -}}
{{- $errors = append $errors "global.compatibility.openshift.adaptSecurityContext: this chart does not adapt its security context to OpenShift; set securityContext.enabled=false (restricted-v2 then assigns the IDs) and this key to disabled" -}}
{{- end -}}
{{- if and $v.cloneFilesFromGit.enabled (eq (toString $v.cloneFilesFromGit.revision) "") -}}
{{- $errors = append $errors "cloneFilesFromGit.revision: empty; name the branch, tag or commit to check out (e.g. main)" -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "\n\nvalues are not valid:\n  - %s\n" (join "\n  - " $errors)) -}}
{{- end -}}
{{- /* terminationGracePeriodSeconds: "" (the 4.x default) is null here: the Kubernetes default. */ -}}
{{- if and (kindIs "string" $v.terminationGracePeriodSeconds) (eq $v.terminationGracePeriodSeconds "") -}}
{{- $_ := set $v "terminationGracePeriodSeconds" nil -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.compat.defaults: the default of each of this chart's keys that a Bitnami 4.x key is read
into (values.yaml's, checked by tests/unit/test_compat.py): such a key counts as set by the user
when it holds another value.
Usage: {{ $defaults := include "pytorch.compat.defaults" . | fromYaml }}
*/}}
{{- define "pytorch.compat.defaults" -}}
mode: standalone
port: 49875
configMap: ""
securityContext.enabled: true
securityContext.fsGroup: 1001
securityContext.fsGroupChangePolicy: OnRootMismatch
persistence.accessMode: ReadWriteOnce
serviceAccount.automountServiceAccountToken: false
{{- end -}}

{{/*
pytorch.compat.resourcesPresets: the resources of each `resourcesPreset` of the Bitnami charts
(their common library's presets when the PyTorch chart 4.x was current: limits are the requests
plus 50 %, except ephemeral storage and the two largest sizes' CPU).
Usage: {{ $presets := include "pytorch.compat.resourcesPresets" . | fromYaml }}
*/}}
{{- define "pytorch.compat.resourcesPresets" -}}
nano:
  requests: {cpu: 100m, memory: 128Mi, ephemeral-storage: 50Mi}
  limits: {cpu: 150m, memory: 192Mi, ephemeral-storage: 1024Mi}
micro:
  requests: {cpu: 250m, memory: 256Mi, ephemeral-storage: 50Mi}
  limits: {cpu: 375m, memory: 384Mi, ephemeral-storage: 1024Mi}
small:
  requests: {cpu: 500m, memory: 512Mi, ephemeral-storage: 50Mi}
  limits: {cpu: 750m, memory: 768Mi, ephemeral-storage: 1024Mi}
medium:
  requests: {cpu: 500m, memory: 1024Mi, ephemeral-storage: 50Mi}
  limits: {cpu: 750m, memory: 1536Mi, ephemeral-storage: 1024Mi}
large:
  requests: {cpu: "1.0", memory: 2048Mi, ephemeral-storage: 50Mi}
  limits: {cpu: "1.5", memory: 3072Mi, ephemeral-storage: 1024Mi}
xlarge:
  requests: {cpu: "1.5", memory: 4096Mi, ephemeral-storage: 50Mi}
  limits: {cpu: "3.0", memory: 6144Mi, ephemeral-storage: 1024Mi}
2xlarge:
  requests: {cpu: "1.5", memory: 4096Mi, ephemeral-storage: 50Mi}
  limits: {cpu: "6.0", memory: 12288Mi, ephemeral-storage: 1024Mi}
{{- end -}}
