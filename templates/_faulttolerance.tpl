{{/*
pytorch.faultTolerance.wrapper: the words put in front of the launch command (python <file> ...
or torchrun ...), as a YAML list; empty when the launch runs as it is. The programs are the
chart's (files/programs/, see _programs.tpl):
- launcher=python with faultTolerance.enabled: `sh supervisor.sh --max-restarts=N
  [--non-retriable-exit-codes=C,...] --`, which restarts the launch as a group;
- heartbeat.enabled: `sh launch.sh --heartbeat [--stack-dumps=<autopsy dir>] --` (after the
  supervisor's words, so that every attempt starts through it): removes the heartbeat files a
  previous container or attempt left in the /tmp emptyDir (they would fail the new run's
  probes), with heartbeat.stackDumps arms every Python process of the launch for the stack
  autopsy (pytorch.faultTolerance.autopsyDir), then execs the launch.
Usage: {{ $wrapper := include "pytorch.faultTolerance.wrapper" . | fromYamlArray }}
*/}}
{{- define "pytorch.faultTolerance.wrapper" -}}
{{- $words := list -}}
{{- if and .Values.faultTolerance.enabled (eq .Values.launcher "python") -}}
{{- $words = list "sh" (include "pytorch.programs.path" (dict "name" "supervisor.sh" "context" .)) (printf "--max-restarts=%d" (int .Values.faultTolerance.maxRestarts)) -}}
{{- with include "pytorch.faultTolerance.exitCodes" . | fromYamlArray -}}
{{- $words = append $words (printf "--non-retriable-exit-codes=%s" (join "," .)) -}}
{{- end -}}
{{- $words = append $words "--" -}}
{{- end -}}
{{- if .Values.heartbeat.enabled -}}
{{- $words = concat $words (list "sh" (include "pytorch.programs.path" (dict "name" "launch.sh" "context" .)) "--heartbeat") -}}
{{- if .Values.heartbeat.stackDumps -}}
{{- $words = append $words (printf "--stack-dumps=%s" (include "pytorch.faultTolerance.autopsyDir" .)) -}}
{{- end -}}
{{- $words = append $words "--" -}}
{{- end -}}
{{- if $words }}{{ toYaml $words }}{{ end -}}
{{- end -}}

{{/*
pytorch.faultTolerance.exitCodes: faultTolerance.nonRetriableExitCodes as integers in ascending
order (a podFailurePolicy's onExitCodes values must be sorted), as a YAML list.
Usage: {{ $codes := include "pytorch.faultTolerance.exitCodes" . | fromYamlArray }}
*/}}
{{- define "pytorch.faultTolerance.exitCodes" -}}
{{- $given := dict -}}
{{- range .Values.faultTolerance.nonRetriableExitCodes }}{{ $_ := set $given (toString (int .)) true }}{{ end -}}
{{- $out := list -}}
{{- range $code := untilStep 1 256 1 }}{{ if hasKey $given (toString $code) }}{{ $out = append $out $code }}{{ end }}{{ end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
pytorch.faultTolerance.torchrunArgs: torchrun's node and rendezvous flags, as a YAML list.
Static (today's): one node per pod with a fixed rank and rank 0 as the master. Elastic
(faultTolerance.enabled): c10d rendezvous at rank 0's address, RDZV_ID per release and pod
revision, --max-restarts, and --nnodes=minNodes:NNODES when 0 < minNodes < the number of pods.
Usage: {{ $flags := include "pytorch.faultTolerance.torchrunArgs" . | fromYamlArray }}
*/}}
{{- define "pytorch.faultTolerance.torchrunArgs" -}}
{{- if .Values.faultTolerance.enabled -}}
{{- $min := int .Values.faultTolerance.minNodes -}}
{{- $nnodes := ternary (printf "%d:$(NNODES)" $min) "$(NNODES)" (and (gt $min 0) (lt $min (include "pytorch.worldSize" . | int)) (not (include "pytorch.resizable" .))) -}}
{{- toYaml (list (printf "--nnodes=%s" $nnodes) "--nproc-per-node=$(NPROC_PER_NODE)" "--rdzv-backend=c10d"
    "--rdzv-endpoint=$(MASTER_ADDR):$(MASTER_PORT)" "--rdzv-id=$(RDZV_ID)"
    (printf "--max-restarts=%d" (int .Values.faultTolerance.maxRestarts))) -}}
{{- else -}}
{{- toYaml (list "--nnodes=$(NNODES)" "--nproc-per-node=$(NPROC_PER_NODE)" "--node-rank=$(NODE_RANK)"
    "--master-addr=$(MASTER_ADDR)" "--master-port=$(MASTER_PORT)") -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.faultTolerance.rdzvRevisionFieldPath: the pod label that changes with every revision of
the workload, for RDZV_ID: the Job's controller-uid, the StatefulSet's controller-revision-hash or
the Deployment's pod-template-hash. (.Release.Revision in the pod template would restart every
pod on each upgrade.)
Usage: {{ include "pytorch.faultTolerance.rdzvRevisionFieldPath" . }}
*/}}
{{- define "pytorch.faultTolerance.rdzvRevisionFieldPath" -}}
{{- $label := "pod-template-hash" -}}
{{- if .Values.job.enabled }}{{ $label = "batch.kubernetes.io/controller-uid" }}
{{- else if eq .Values.mode "distributed" }}{{ $label = "controller-revision-hash" }}{{ end -}}
{{- printf "metadata.labels['%s']" $label -}}
{{- end -}}

{{/*
pytorch.faultTolerance.env: the fault-tolerance part of the PyTorch container's environment:
PG_TIMEOUT_SECONDS and NCCL's error handling, heartbeat watchdog and its timeout (always; a
variable that torchEnv or an extraEnvVars item sets itself is left to it), SUCCESS_FILE (the
supervisor's success marker: launcher=python with faultTolerance.enabled, unless torchEnv or
extraEnvVars sets it), HEARTBEAT_FILE and
READY_FILE (heartbeat.enabled), CHECKPOINT_EVERY (checkpoint.everySteps > 0), and RDZV_REVISION,
RDZV_ID and TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 (torchrun elastic: each rendezvous round's workers
get a fresh store from their rank 0 instead of the rendezvous store, where a round whose agents
count their restarts differently reads the previous round's keys).
Usage: {{ include "pytorch.faultTolerance.env" . }}
*/}}
{{- define "pytorch.faultTolerance.env" -}}
{{- $timeout := toString (int .Values.faultTolerance.collectiveTimeoutSeconds) -}}
{{- $always := list (list "PG_TIMEOUT_SECONDS" $timeout) (list "TORCH_NCCL_ASYNC_ERROR_HANDLING" "3")
    (list "TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC" $timeout) (list "TORCH_NCCL_ENABLE_MONITORING" "1") -}}
{{- range $always }}
{{- if not (include "pytorch.userSetsEnv" (dict "name" (index . 0) "context" $)) }}
- name: {{ index . 0 }}
  value: {{ index . 1 | quote }}
{{- end }}
{{- end }}
{{- if and .Values.faultTolerance.enabled (eq .Values.launcher "python") (not (include "pytorch.userSetsEnv" (dict "name" "SUCCESS_FILE" "context" $))) }}
- name: SUCCESS_FILE
  value: /tmp/pytorch-succeeded
{{- end }}
{{- if .Values.heartbeat.enabled }}
- name: HEARTBEAT_FILE
  value: /tmp/pytorch-heartbeat/alive
- name: READY_FILE
  value: /tmp/pytorch-heartbeat/ready
{{- end }}
{{- if gt (int .Values.checkpoint.everySteps) 0 }}
- name: CHECKPOINT_EVERY
  value: {{ int .Values.checkpoint.everySteps | quote }}
{{- end }}
{{- if and .Values.faultTolerance.enabled (eq .Values.launcher "torchrun") }}
- name: RDZV_REVISION
  valueFrom:
    fieldRef:
      fieldPath: {{ include "pytorch.faultTolerance.rdzvRevisionFieldPath" . }}
- name: RDZV_ID
  value: {{ printf "%s-$(RDZV_REVISION)" .Release.Name | quote }}
- name: TORCH_DISABLE_SHARE_RDZV_TCP_STORE
  value: "1"
{{- end }}
{{- end -}}

{{/*
pytorch.faultTolerance.probe: the heartbeat exec probe for `name` (livenessProbe: the chart's
liveness.sh, which passes while HEARTBEAT_FILE is absent or younger than
heartbeat.timeoutSeconds, and with heartbeat.stackDumps runs the stack autopsy, told the
probe's own period, failure threshold and timeout, and the checkpoint claim's folder for the
ranks' reports when every rank mounts it; readinessProbe: READY_FILE exists), the `exec:`
block only. Exec probes are not $(NAME)-expanded; they see the container's environment.
Usage: {{ include "pytorch.faultTolerance.probe" (dict "name" "livenessProbe" "context" $) }}
*/}}
{{- define "pytorch.faultTolerance.probe" -}}
{{- $ := .context -}}
{{- $command := list "test" "-e" "/tmp/pytorch-heartbeat/ready" -}}
{{- if eq .name "livenessProbe" -}}
{{- $command = list "sh" (include "pytorch.programs.path" (dict "name" "liveness.sh" "context" $)) (printf "--timeout-seconds=%d" (int $.Values.heartbeat.timeoutSeconds)) -}}
{{- if $.Values.heartbeat.stackDumps -}}
{{- $probe := $.Values.livenessProbe -}}
{{- $command = append $command (printf "--autopsy-dir=%s" (include "pytorch.faultTolerance.autopsyDir" $)) -}}
{{- with include "pytorch.faultTolerance.sharedAutopsyDir" $ -}}
{{- $command = append $command (printf "--shared-dir=%s" .) -}}
{{- end -}}
{{- $command = concat $command (list (printf "--period-seconds=%d" (int (default 10 $probe.periodSeconds)))
    (printf "--failure-threshold=%d" (int (default 3 $probe.failureThreshold)))
    (printf "--probe-timeout-seconds=%d" (int (default 1 $probe.timeoutSeconds)))) -}}
{{- end -}}
{{- end -}}
exec:
  command:
    {{- toYaml $command | nindent 4 }}
{{- end -}}

{{/*
pytorch.faultTolerance.autopsyDir: the stack autopsy's folder in the /tmp emptyDir: stacks/
(one dump file per armed process, emptied by launch.sh before every run) and state/ (what this
pod has dumped and reported, kept across container restarts).
Usage: {{ include "pytorch.faultTolerance.autopsyDir" . }}
*/}}
{{- define "pytorch.faultTolerance.autopsyDir" -}}
/tmp/pytorch-autopsy
{{- end -}}

{{/*
pytorch.faultTolerance.sharedAutopsyDir: the folder on the checkpoint claim, which every rank
mounts, where the stack autopsy keeps each pod's report and alarm: <mountPath>/.pytorch-autopsy
with checkpoint.persistence.enabled, else empty (each pod then knows only itself).
Usage: {{ include "pytorch.faultTolerance.sharedAutopsyDir" . }}
*/}}
{{- define "pytorch.faultTolerance.sharedAutopsyDir" -}}
{{- if .Values.checkpoint.persistence.enabled -}}
{{- printf "%s/.pytorch-autopsy" .Values.checkpoint.persistence.mountPath -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.faultTolerance.podFailureRules: the Job's podFailurePolicy rules that fault tolerance
adds after job.podFailurePolicy.rules: FailJob when the pytorch container exits with one of
faultTolerance.nonRetriableExitCodes (no retry, backoffLimit untouched); a YAML list.
Usage: {{ $rules := include "pytorch.faultTolerance.podFailureRules" . | fromYamlArray }}
*/}}
{{- define "pytorch.faultTolerance.podFailureRules" -}}
{{- $codes := include "pytorch.faultTolerance.exitCodes" . | fromYamlArray -}}
{{- $rules := list -}}
{{- if $codes -}}
{{- $rules = append $rules (dict "action" "FailJob" "onExitCodes" (dict "containerName" "pytorch" "operator" "In" "values" $codes)) -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}

{{/*
pytorch.checkpoint.claimName: the claim mounted at checkpoint.persistence.mountPath:
checkpoint.persistence.existingClaim, or the chart's <fullname>-checkpoints.
Usage: {{ include "pytorch.checkpoint.claimName" . }}
*/}}
{{- define "pytorch.checkpoint.claimName" -}}
{{- default (printf "%s-checkpoints" (include "pytorch.fullname" .)) .Values.checkpoint.persistence.existingClaim -}}
{{- end -}}
