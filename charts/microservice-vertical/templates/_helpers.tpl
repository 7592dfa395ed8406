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

{{/*
microservice-vertical.seldonSteps: the sequence's models in order, after refusing what a Seldon
chain cannot do: test an answer (a condition), go on past a failed step (Soft), use a model twice,
or (Seldon Core 1, which sends each node's answer to the next) send a later step the request.
*/}}
{{- define "microservice-vertical.seldonSteps" -}}
{{- $names := list -}}
{{- range $index, $step := .Values.sequence -}}
{{- if has $step.model $names -}}
{{- fail (printf "sequence[%d]: %s is already a step; a Seldon graph runs each model once" $index $step.model) -}}
{{- end -}}
{{- if $step.condition -}}
{{- fail (printf "sequence[%d].condition: a Seldon chain runs every step (a GJSON condition is KServe's InferenceGraph's; Seldon Core 2's triggers test a tensor's presence, not an answer); remove it, or use backend kserve" $index) -}}
{{- end -}}
{{- if eq (default "Hard" $step.dependency) "Soft" -}}
{{- fail (printf "sequence[%d].dependency Soft: in a Seldon chain a failed step fails the request; use Hard, or backend kserve" $index) -}}
{{- end -}}
{{- if and (gt $index 0) (eq $.Values.backend "seldon-core-v1") (ne (default "$request" $step.data) "$response") -}}
{{- fail (printf "sequence[%d].data is $request: Seldon Core 1 sends each model's answer to the next, as data: $response with mapPredictionsToInstances does; set it, or use backend seldon-core-v2 or kserve" $index) -}}
{{- end -}}
{{- $names = append $names $step.model -}}
{{- end -}}
{{- toYaml $names -}}
{{- end -}}
