{{/* The chart's name (nameOverride) and the prefix of every object's name: fullnameOverride,
else the release name alone when it already holds the chart's name (release "prazium":
prazium-api, not prazium-prazium-api), else <release>-<name>. 63 characters at most
(labels' and DNS names' limit); the longest suffix added to it is 15 (-api-tenants). */}}
{{- define "prazium.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "prazium.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "prazium.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "prazium.labels" -}}
app.kubernetes.io/name: {{ include "prazium.name" . }}
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
{{- with .annotations }}
annotations: {{- toYaml . | nindent 2 }}
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

{{/* Pod scheduling, priority and pull secrets: the component's value when set, else the
chart's. Call with (dict "root" $ "own" .Values.<component> "component" "<name>"). */}}
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
{{- with (.own.priorityClassName | default $root.Values.priorityClassName) }}
priorityClassName: {{ . }}
{{- end }}
{{- with (.own.topologySpreadConstraints | default $root.Values.topologySpreadConstraints) }}
{{- /* A constraint without a labelSelector counts this component's own Pods. */}}
topologySpreadConstraints:
{{- range . }}
{{- $constraint := deepCopy . }}
{{- if and $.component (not (hasKey $constraint "labelSelector")) }}
{{- $_ := set $constraint "labelSelector" (dict "matchLabels" (dict "app.kubernetes.io/instance" $root.Release.Name "app.kubernetes.io/component" $.component)) }}
{{- end }}
  - {{- toYaml $constraint | nindent 4 }}
{{- end }}
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
