{{/* Standard names and labels (the layout `helm create` uses). */}}

{{- define "hippodrome.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hippodrome.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hippodrome.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hippodrome.labels" -}}
helm.sh/chart: {{ include "hippodrome.chart" . }}
app.kubernetes.io/name: {{ include "hippodrome.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hippodrome
{{- end }}

{{- define "hippodrome.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hippodrome.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hippodrome.operator.fullname" -}}
{{- printf "%s-operator" (include "hippodrome.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hippodrome.dashboard.fullname" -}}
{{- printf "%s-dashboard" (include "hippodrome.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hippodrome.dashboard.stackName" -}}
{{- default .Values.stack.name .Values.dashboard.stackName }}
{{- end }}

{{- define "hippodrome.image" -}}
{{- printf "%s:%s" .repository .tag }}
{{- end }}

{{/* A restricted-profile container securityContext (with liveUpdate, Tilt may write the synced source). */}}
{{- define "hippodrome.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ not .Values.liveUpdate }}
runAsNonRoot: true
runAsUser: 10001
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}
