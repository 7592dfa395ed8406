{{/*
online-ab.names: the variants' names, in order, after the checks the schema cannot make: names
told apart, weights summing to 100, and what each router can do.
Usage: {{ $names := include "online-ab.names" . | fromYamlArray }}
*/}}
{{- define "online-ab.names" -}}
{{- $names := list -}}
{{- $total := 0 -}}
{{- range .Values.variants -}}
{{- if has .name $names -}}
{{- fail (printf "variants: %q is given twice; each variant needs a name of its own" .name) -}}
{{- end -}}
{{- $names = append $names .name -}}
{{- $total = add $total .weight -}}
{{- end -}}
{{- if ne (int $total) 100 -}}
{{- fail (printf "variants[].weight sum to %d, not 100 (%s)" (int $total) (include "online-ab.weights" .)) -}}
{{- end -}}
{{- $backend := include "mlpatterns.backend" . -}}
{{- if and (ne $backend "kserve") (or .Values.override.header .Values.sticky.header) -}}
{{- fail (printf "backend %s: Seldon splits by weight only (%s); set override.header=\"\" and sticky.header=\"\"" $backend (ternary "Seldon Core 2 keeps a client in its variant when it sends back the x-seldon-route header of its first answer, and reaches one model with seldon-model: <model>.model" "Seldon Core 1 has no sticky or forced route" (eq $backend "seldon-core-v2"))) -}}
{{- end -}}
{{- if has .Values.trafficRouter (list "kserve" "inferencegraph") -}}
{{- if or .Values.override.header .Values.sticky.header -}}
{{- fail (printf "trafficRouter %s: KServe's router splits by weight only; set override.header=\"\" and sticky.header=\"\", or use trafficRouter istio for a forced variant or sticky users" .Values.trafficRouter) -}}
{{- end -}}
{{- end -}}
{{- if eq .Values.trafficRouter "kserve" -}}
{{- if and (has .Values.deploymentMode (list "Knative" "Serverless")) (ne (len $names) 2) -}}
{{- fail (printf "trafficRouter kserve in Knative mode splits between one predictor's previous and latest revision: give exactly 2 variants, not %d" (len $names)) -}}
{{- end -}}
{{- else if and (eq .Values.trafficRouter "gateway-api") .Values.sticky.header -}}
{{- fail "sticky.header: Gateway API picks a backend for each request on its own and cannot keep a user in one variant; use trafficRouter istio, or have the caller send override.header" -}}
{{- end -}}
{{- toYaml $names -}}
{{- end -}}

{{/*
online-ab.weights: "primary 90, canary 10", for messages.
*/}}
{{- define "online-ab.weights" -}}
{{- $parts := list -}}
{{- range .Values.variants }}{{ $parts = append $parts (printf "%s %v" .name .weight) }}{{ end -}}
{{- join ", " $parts -}}
{{- end -}}

{{/*
online-ab.bucketHeader: the header the sticky EnvoyFilter writes each user's bucket (0-99) into.
*/}}
{{- define "online-ab.bucketHeader" -}}x-mlpatterns-bucket{{- end -}}

{{/*
online-ab.routes: the override header first (one route per variant), then with sticky.header
each variant's share of the 100 buckets, then every request by weight.
*/}}
{{- define "online-ab.routes" -}}
{{- $root := . -}}
{{- with .Values.override.header }}
{{- range $root.Values.variants }}
- name: override-{{ .name }}
  match:
    headers:
      {{ $root.Values.override.header }}:
        exact: {{ .name }}
  to:
    - variant: {{ .name }}
      weight: 100
{{- end }}
{{- end }}
{{- if .Values.sticky.header }}
{{- $from := 0 }}
{{- range .Values.variants }}
{{- $to := add $from .weight | int }}
{{- if gt (int .weight) 0 }}
{{- $buckets := list }}
{{- range $bucket := untilStep (int $from) $to 1 }}{{ $buckets = append $buckets (toString $bucket) }}{{ end }}
- name: sticky-{{ .name }}
  match:
    headers:
      {{ include "online-ab.bucketHeader" $root }}:
        regex: {{ printf "^(%s)$" (join "|" $buckets) | quote }}
  to:
    - variant: {{ .name }}
      weight: 100
{{- end }}
{{- $from = $to }}
{{- end }}
{{- end }}
- name: weighted
  to:
    {{- range .Values.variants }}
    - variant: {{ .name }}
      weight: {{ .weight }}
    {{- end }}
{{- end -}}
