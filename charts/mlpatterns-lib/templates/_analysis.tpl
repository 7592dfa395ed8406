{{/*
Gates for progressive delivery controllers a team may already run: a Flagger MetricTemplate per
metric (flagger.app/v1beta1; a Canary's analysis names it with its thresholds) and one Argo
Rollouts AnalysisTemplate with every metric and its condition (argoproj.io/v1alpha1). Each metric
is a PromQL query over the mlpatterns_* series and a bound: {name, query, atLeast} or {name,
query, atMost}.
*/}}

{{/*
mlpatterns.analysisTemplates: the templates .Values.analysis turns on, for .metrics.
Usage: {{ include "mlpatterns.analysisTemplates" (dict "root" . "metrics" $metrics) }}
*/}}
{{- define "mlpatterns.analysisTemplates" -}}
{{- $root := .root -}}
{{- $analysis := $root.Values.analysis -}}
{{- if $analysis.flagger.enabled }}
{{- range .metrics }}
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: {{ include "mlpatterns.componentName" (dict "root" $root "component" .name) }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
  annotations:
    # The bound a Canary's analysis should give this metric (thresholdRange).
    mlpatterns.dev/threshold: {{ if hasKey . "atLeast" }}min {{ .atLeast }}{{ else }}max {{ .atMost }}{{ end }}
spec:
  provider:
    type: prometheus
    address: {{ $analysis.prometheusAddress }}
  query: {{ .query | quote }}
{{- end }}
{{- end }}
{{- if $analysis.argoRollouts.enabled }}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: {{ include "mlpatterns.fullname" $root }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
spec:
  metrics:
    {{- range .metrics }}
    - name: {{ .name }}
      interval: 1m
      # A query with no data yet (no traffic) is inconclusive, not a pass.
      successCondition: {{ if hasKey . "atLeast" }}len(result) > 0 && result[0] >= {{ .atLeast }}{{ else }}len(result) > 0 && result[0] <= {{ .atMost }}{{ end }}
      failureLimit: 2
      inconclusiveLimit: 5
      provider:
        prometheus:
          address: {{ $analysis.prometheusAddress }}
          query: {{ .query | quote }}
    {{- end }}
{{- end }}
{{- end -}}
