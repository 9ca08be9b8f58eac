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

{{- define "prazium.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "prazium.dbSecret" -}}
{{- if eq .Values.database.mode "external" -}}
{{ required "database.existingSecret is required when database.mode=external" .Values.database.existingSecret }}
{{- else -}}
{{ include "prazium.fullname" . }}-db
{{- end -}}
{{- end -}}

{{- define "prazium.repoClaim" -}}
{{ .Values.repoVolume.existingClaim | default (printf "%s-repos" (include "prazium.fullname" .)) }}
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
