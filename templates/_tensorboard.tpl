{{/*
pytorch.tensorboard.logDir: the directory TensorBoard reads and the script writes:
tensorboard.logDir, under persistence.mountPath unless it is absolute.
Usage: {{ include "pytorch.tensorboard.logDir" . }}
*/}}
{{- define "pytorch.tensorboard.logDir" -}}
{{- $dir := .Values.tensorboard.logDir -}}
{{- if isAbs $dir -}}
{{- clean $dir -}}
{{- else -}}
{{- clean (printf "%s/%s" .Values.persistence.mountPath $dir) -}}
{{- end -}}
{{- end -}}

{{/*
pytorch.initContainer.tensorboard: the TensorBoard native sidecar, an item of `initContainers`:
restartPolicy Always makes it start before the PyTorch container, run beside it, and stop after
it without holding up the pod's completion (so a Job still completes). It reads the log
directory from the data volume, mounted read-only.
Usage: {{ include "pytorch.initContainer.tensorboard" . | nindent 2 }}
*/}}
{{- define "pytorch.initContainer.tensorboard" -}}
- name: tensorboard
  image: {{ include "pytorch.image" (dict "image" .Values.tensorboard.image "context" $) }}
  imagePullPolicy: {{ .Values.tensorboard.image.pullPolicy }}
  restartPolicy: Always
  command:
    - tensorboard
  args:
    - --logdir=$(TENSORBOARD_LOG_DIR)
    - --host=0.0.0.0
    - --port={{ .Values.tensorboard.port }}
  env:
    - name: TENSORBOARD_LOG_DIR
      value: {{ include "pytorch.tensorboard.logDir" . | quote }}
    - name: HOME
      value: /tmp
  ports:
    - name: tensorboard
      containerPort: {{ .Values.tensorboard.port }}
      protocol: TCP
  {{- with .Values.tensorboard.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with include "pytorch.containerSecurityContext" . | trim }}{{ . | nindent 2 }}{{ end }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: data
      mountPath: {{ .Values.persistence.mountPath }}
      readOnly: true
{{- end -}}
