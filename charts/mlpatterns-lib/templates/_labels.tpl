{{/*
Labels. Selector labels are kept apart from metadata labels: selectors are immutable on a
Deployment, so they hold only what never changes between upgrades.
*/}}

{{/*
mlpatterns.selectorLabels: what Deployments, Services, PDBs and monitors select on.
Usage: {{ include "mlpatterns.selectorLabels" . }}
*/}}
{{- define "mlpatterns.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlpatterns.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
mlpatterns.labels: the full metadata labels (selector labels plus chart, version, pattern).
Usage: {{ include "mlpatterns.labels" . }}
*/}}
{{- define "mlpatterns.labels" -}}
helm.sh/chart: {{ include "mlpatterns.chart" . }}
{{ include "mlpatterns.selectorLabels" . }}
{{- with .Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mlpatterns
mlpatterns.dev/pattern: {{ .Chart.Name }}
{{- end -}}
