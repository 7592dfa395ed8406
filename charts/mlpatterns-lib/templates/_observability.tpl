{{/*
What users watch: the pattern's Grafana dashboards and its alert rules, each off by a value. The
dashboards' JSON and the rule groups are generated (_observability_generated.tpl); these wrap them.
*/}}

{{/*
mlpatterns.dashboards: a ConfigMap of the dashboards named in .dashboards, labelled for the Grafana
sidecar of kube-prometheus-stack (monitoring.dashboards.labels) and put in its folder.
Usage: {{ include "mlpatterns.dashboards" (dict "root" . "dashboards" (list "overview" "shadow")) }}
*/}}
{{- define "mlpatterns.dashboards" -}}
{{- $values := .root.Values.monitoring.dashboards }}
{{- if $values.enabled }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "mlpatterns.fullname" .root | trunc 52 | trimSuffix "-" }}-dashboards
  namespace: {{ include "mlpatterns.namespace" .root }}
  labels:
    {{- include "mlpatterns.labels" .root | nindent 4 }}
    {{- with $values.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $values.folder }}
  annotations:
    # The folder the sidecar files them in (kube-prometheus-stack: sidecar.dashboards.folderAnnotation).
    grafana_folder: {{ . | quote }}
  {{- end }}
data:
  {{- range .dashboards }}
  {{ . }}.json: |-
    {{- include (printf "mlpatterns.dashboard.%s" .) $ | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.prometheusRule: the alert groups named in .groups as a PrometheusRule, scoped to the
release's namespace, with the thresholds of monitoring.rules; .primary names the role the other
variants' error ratios are held against.
Usage: {{ include "mlpatterns.prometheusRule" (dict "root" . "groups" (list "serving") "primary" "primary") }}
*/}}
{{- define "mlpatterns.prometheusRule" -}}
{{- $values := .root.Values.monitoring.rules }}
{{- if $values.enabled }}
{{- $blanks := dict "namespace" (include "mlpatterns.namespace" .root) "thresholds" $values "primary" .primary }}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "mlpatterns.fullname" .root }}
  namespace: {{ include "mlpatterns.namespace" .root }}
  labels:
    {{- include "mlpatterns.labels" .root | nindent 4 }}
    {{- with $values.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
    {{- range .groups }}
    {{- include (printf "mlpatterns.ruleGroup.%s" .) $blanks | nindent 4 }}
    {{- end }}
{{- end }}
{{- end -}}
