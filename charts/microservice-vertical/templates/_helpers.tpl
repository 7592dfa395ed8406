{{/*
microservice-vertical.nodes: the InferenceGraph's nodes: root, a Sequence of .Values.sequence,
after the checks the schema cannot make (each step names a model; the first step has no answer
before it to send or to test).
Usage: {{ $nodes := include "microservice-vertical.nodes" . | fromYaml }}
*/}}
{{- define "microservice-vertical.nodes" -}}
{{- $names := include "mlpatterns.graphModels" . | fromYamlArray -}}
{{- $steps := list -}}
{{- range $index, $step := .Values.sequence -}}
{{- if not (has $step.model $names) -}}
{{- fail (printf "sequence[%d] names the model %q, which is not in models (those are: %s)" $index $step.model (join ", " $names)) -}}
{{- end -}}
{{- if and (eq $index 0) (or $step.condition (eq (default "" $step.data) "$response") $step.mapPredictionsToInstances) -}}
{{- fail "sequence[0] is the first step: there is no answer before it to test (condition) or to send ($response, mapPredictionsToInstances)" -}}
{{- end -}}
{{- $fields := omit $step "model" -}}
{{- $steps = concat $steps (include "mlpatterns.graphStep" (dict "root" $ "model" $step.model "step" $fields) | fromYamlArray) -}}
{{- end -}}
root:
  routerType: Sequence
  steps:
    {{- toYaml $steps | nindent 4 }}
{{- end -}}
