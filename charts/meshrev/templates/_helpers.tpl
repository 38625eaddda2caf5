{{/* Labels every object carries. */}}
{{- define "meshrev.labels" -}}
app.kubernetes.io/name: meshrev
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The operator pods' selector (as config/manager's Deployment). */}}
{{- define "meshrev.selectorLabels" -}}
app.kubernetes.io/name: meshrev
app.kubernetes.io/component: operator
{{- end }}

{{/* The ServiceAccount's username, which the admission policies match. */}}
{{- define "meshrev.username" -}}
system:serviceaccount:{{ .Release.Namespace }}:{{ .Values.serviceAccount.name }}
{{- end }}

{{- define "meshrev.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
