{{- define "prazium.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "prazium.labels" -}}
app.kubernetes.io/name: prazium
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* Every namespaced object names its namespace, so `helm template -n X | kubectl apply`
lands in X whatever the current context's namespace is. */}}
{{- define "prazium.metadata" -}}
name: {{ .name }}
namespace: {{ .root.Release.Namespace }}
labels:
  {{- include "prazium.labels" .root | nindent 2 }}
  {{- with .component }}
  app.kubernetes.io/component: {{ . }}
  {{- end }}
{{- end -}}

{{- define "prazium.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "prazium.dbSecret" -}}
{{- if eq .Values.database.mode "external" -}}
{{ required "database.existingSecret is required when database.mode=external" .Values.database.existingSecret }}
{{- else if .Values.database.bundled.existingSecret -}}
{{ .Values.database.bundled.existingSecret }}
{{- else -}}
{{ include "prazium.fullname" . }}-db
{{- end -}}
{{- end -}}

{{- define "prazium.repoClaim" -}}
{{ .Values.repoVolume.existingClaim | default (printf "%s-repos" (include "prazium.fullname" .)) }}
{{- end -}}

{{- define "prazium.apiServiceAccount" -}}
{{ include "prazium.fullname" . }}-api
{{- end -}}

{{- define "prazium.tenantRole" -}}
{{ include "prazium.fullname" . }}-tenant
{{- end -}}

{{/* The operator's rights in a tenant namespace (reading its publish Secrets), bound there
by create-key: never cluster-wide. */}}
{{- define "prazium.operatorTenantRole" -}}
{{ include "prazium.fullname" . }}-operator-tenant
{{- end -}}

{{/* Pod scheduling and pull secrets: the component's value when set, else the chart's.
Call with (dict "root" $ "own" .Values.<component>). */}}
{{- define "prazium.scheduling" -}}
{{- $root := .root -}}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.own.nodeSelector | default $root.Values.nodeSelector) }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.own.tolerations | default $root.Values.tolerations) }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.own.affinity | default $root.Values.affinity) }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A change of the ConfigMap or of the database Secret rolls the Pods that read them
(envFrom and secretKeyRef are read only when a container starts). */}}
{{- define "prazium.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/config.yaml") . | sha256sum }}
checksum/database: {{ include (print .Template.BasePath "/database-secret.yaml") . | sha256sum }}
{{- end -}}

{{/* Restricted Pod Security Standard: non-root, no privilege escalation, no capabilities. */}}
{{- define "prazium.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "prazium.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}
