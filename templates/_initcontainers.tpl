{{/*
pytorch.initContainers: the `initContainers:` block: volume permissions, then git clone, then the
TensorBoard sidecar (a native sidecar starts after the init containers before it), or nothing.
Usage: {{ include "pytorch.initContainers" . }}
*/}}
{{- define "pytorch.initContainers" -}}
{{- $permissions := eq (include "pytorch.volumePermissions.enabled" .) "true" -}}
{{- $git := eq (include "pytorch.filesSource" .) "git" -}}
{{- if or $permissions $git .Values.tensorboard.enabled }}
initContainers:
{{- if $permissions }}
  {{- include "pytorch.initContainer.volumePermissions" . | nindent 2 }}
{{- end }}
{{- if $git }}
  {{- include "pytorch.initContainer.gitClone" . | nindent 2 }}
{{- end }}
{{- if .Values.tensorboard.enabled }}
  {{- include "pytorch.initContainer.tensorboard" . | nindent 2 }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
pytorch.initContainer.volumePermissions: the init container that runs as root and gives the data
volume to runAsUser:fsGroup (it fails the restricted Pod Security Standard, as documented).
Usage: {{ include "pytorch.initContainer.volumePermissions" . | nindent 2 }}
*/}}
{{- define "pytorch.initContainer.volumePermissions" -}}
- name: volume-permissions
  image: {{ include "pytorch.image" (dict "image" .Values.volumePermissions.image "context" $) }}
  imagePullPolicy: {{ .Values.volumePermissions.image.pullPolicy }}
  command:
    - /bin/sh
    - -ec
    - chown -R "$OWNER" "$DATA_DIR"
  env:
    - name: OWNER
      value: "{{ .Values.securityContext.runAsUser }}:{{ .Values.securityContext.fsGroup }}"
    - name: DATA_DIR
      value: {{ .Values.persistence.mountPath | quote }}
  securityContext:
    runAsUser: 0
    runAsNonRoot: false
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop:
        - ALL
      add:
        - CHOWN
        - DAC_OVERRIDE
        - FOWNER
    seccompProfile:
      type: RuntimeDefault
  {{- with .Values.volumePermissions.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: data
      mountPath: {{ .Values.persistence.mountPath }}
{{- end -}}

{{/*
pytorch.initContainer.gitClone: the init container that clones cloneFilesFromGit.repository at
its revision into the files volume (/app). URL and revision reach git through the environment,
never through the script. With cloneFilesFromGit.existingSecret the Secret is mounted read-only at
/etc/git-auth: git asks a credential helper that reads `username`/`password` from there (HTTPS), and
ssh takes `ssh-privatekey` and `known_hosts` from there (strict host key checking). Only paths reach
the environment and command lines; the secret itself stays in the files.
Usage: {{ include "pytorch.initContainer.gitClone" . | nindent 2 }}
*/}}
{{- define "pytorch.initContainer.gitClone" -}}
- name: git-clone
  image: {{ include "pytorch.image" (dict "image" .Values.git "context" $) }}
  imagePullPolicy: {{ .Values.git.pullPolicy }}
  command:
    - /bin/sh
    - -ec
    - |
      git config --global --add safe.directory /app
      {{- if .Values.cloneFilesFromGit.existingSecret }}
      git config --global credential.helper '!f() { test "$1" = get || exit 0; echo "username=$(cat "$GIT_AUTH_DIR/username" 2>/dev/null || echo git)"; echo "password=$(cat "$GIT_AUTH_DIR/password")"; }; f'
      {{- end }}
      git init -q /app
      git -C /app remote add origin "$GIT_REPOSITORY"
      git -C /app fetch -q --depth 1 origin "$GIT_REVISION"
      git -C /app checkout -q FETCH_HEAD
  env:
    - name: GIT_REPOSITORY
      value: {{ tpl .Values.cloneFilesFromGit.repository $ | quote }}
    - name: GIT_REVISION
      value: {{ .Values.cloneFilesFromGit.revision | quote }}
    - name: HOME
      value: /tmp
    {{- if .Values.cloneFilesFromGit.existingSecret }}
    - name: GIT_AUTH_DIR
      value: /etc/git-auth
    - name: GIT_SSH_COMMAND
      value: ssh -i /etc/git-auth/ssh-privatekey -o IdentitiesOnly=yes -o UserKnownHostsFile=/etc/git-auth/known_hosts -o StrictHostKeyChecking=yes
    - name: GIT_TERMINAL_PROMPT
      value: "0"
    {{- end }}
  {{- with include "pytorch.containerSecurityContext" . | trim }}{{ . | nindent 2 }}{{ end }}
  volumeMounts:
    - name: files
      mountPath: /app
    - name: tmp
      mountPath: /tmp
    {{- if .Values.cloneFilesFromGit.existingSecret }}
    - name: git-auth
      mountPath: /etc/git-auth
      readOnly: true
    {{- end }}
    {{- with .Values.cloneFilesFromGit.extraVolumeMounts }}
    {{- include "pytorch.tplvalues.render" (dict "value" . "context" $) | nindent 4 }}
    {{- end }}
{{- end -}}

{{/*
pytorch.volumePermissions.enabled: "true" when the volume permissions init container runs
(it needs a data volume to fix).
Usage: {{ if eq (include "pytorch.volumePermissions.enabled" .) "true" }}
*/}}
{{- define "pytorch.volumePermissions.enabled" -}}
{{- if and .Values.volumePermissions.enabled .Values.persistence.enabled }}true{{ else }}false{{ end -}}
{{- end -}}
