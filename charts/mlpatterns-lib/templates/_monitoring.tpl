{{/*
Prometheus Operator monitors for the server's /metrics (the mlpatterns_* series).
*/}}

{{/*
mlpatterns.serviceMonitor: scrape the Service's port named http.
Usage: {{ include "mlpatterns.serviceMonitor" . }}
*/}}
{{- define "mlpatterns.serviceMonitor" -}}
{{- if .Values.monitoring.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "mlpatterns.fullname" . }}
  namespace: {{ include "mlpatterns.namespace" . }}
  labels:
    {{- include "mlpatterns.labels" . | nindent 4 }}
    {{- with .Values.monitoring.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "mlpatterns.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: {{ if .Values.monitoring.port }}metrics{{ else }}http{{ end }}
      path: /metrics
      interval: {{ .Values.monitoring.interval }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.podMonitor: scrape pods KServe created (they carry no chart labels, so select them by
the InferenceService label .isvc), or the pods .selector selects, on the container port named by
.port (with .sameport, even when monitoring.port moves the server's /metrics) or numbered
.portNumber; .name names a
second monitor of a release (default: the release's full name).
Usage: {{ include "mlpatterns.podMonitor" (dict "root" . "isvc" $name "port" "http1") }}
*/}}
{{- define "mlpatterns.podMonitor" -}}
{{- if .root.Values.monitoring.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata:
  name: {{ .name | default (include "mlpatterns.fullname" .root) }}
  namespace: {{ include "mlpatterns.namespace" .root }}
  labels:
    {{- include "mlpatterns.labels" .root | nindent 4 }}
    {{- with .root.Values.monitoring.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- if .selector }}
      {{- .selector | nindent 6 }}
      {{- else }}
      serving.kserve.io/inferenceservice: {{ .isvc }}
      {{- end }}
  podMetricsEndpoints:
    {{- /* monitoring.port moves the model server's /metrics; .sameport pods (the collector) keep .port. */}}
    {{- $number := .portNumber }}
    {{- /* A number, not a name: the platform's ClusterServingRuntime does not name this port. */}}
    {{- with and (not .sameport) .root.Values.monitoring.port }}{{ $number = . }}{{ end }}
    {{- if $number }}
    - portNumber: {{ $number }}
    {{- else }}
    - port: {{ .port }}
    {{- end }}
      path: /metrics
      interval: {{ .root.Values.monitoring.interval }}
{{- end }}
{{- end -}}
