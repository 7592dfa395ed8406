{{/*
microservice-horizontal.nodes: the InferenceGraph's nodes: root, a Sequence of the Ensemble node
(every model at once, each a step by its name with its dependency) and then the aggregator, which
is sent the Ensemble's answer. A Hard model's failure ends the request before the aggregator.
Usage: {{ $nodes := include "microservice-horizontal.nodes" . | fromYaml }}
*/}}
{{- define "microservice-horizontal.nodes" -}}
{{- $names := include "mlpatterns.graphModels" . | fromYamlArray -}}
{{- if has "aggregator" $names -}}
{{- fail "models: aggregator is the aggregator's own name; give the model another" -}}
{{- end -}}
{{- if gt (int .Values.aggregator.minAnswers) (len $names) -}}
{{- fail (printf "aggregator.minAnswers is %v, but there are %d models" .Values.aggregator.minAnswers (len $names)) -}}
{{- end -}}
{{- $steps := list -}}
{{- range .Values.models -}}
{{- $steps = concat $steps (include "mlpatterns.graphStep" (dict "root" $ "model" .name "step" (pick . "dependency")) | fromYamlArray) -}}
{{- end -}}
root:
  routerType: Sequence
  steps:
    - name: ensemble
      nodeName: ensemble
      dependency: Hard
    {{- include "mlpatterns.graphStep" (dict "root" . "model" "aggregator" "step" (dict "data" "$response" "dependency" "Hard")) | nindent 4 }}
ensemble:
  routerType: Ensemble
  steps:
    {{- toYaml $steps | nindent 4 }}
{{- end -}}

{{/*
microservice-horizontal.weights: each model's weight, for the methods that weigh (vote, weighted-mean).
*/}}
{{- define "microservice-horizontal.weights" -}}
{{- $weights := dict -}}
{{- if has .Values.aggregator.method (list "vote" "weighted-mean") -}}
{{- range .Values.models }}{{ $_ := set $weights .name .weight }}{{ end -}}
{{- end -}}
{{- toYaml $weights -}}
{{- end -}}
