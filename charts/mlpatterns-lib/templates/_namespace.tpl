{{/*
mlpatterns.namespace: the release namespace, written on every object so nothing lands in
`default` by accident when manifests are applied without -n.
Usage: namespace: {{ include "mlpatterns.namespace" . }}
*/}}
{{- define "mlpatterns.namespace" -}}
{{- .Release.Namespace -}}
{{- end -}}
