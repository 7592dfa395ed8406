{{/*
condition-based.models: the models to run, as a list of {name, model}: the default's and each
route's own (a route with `use` shares another's), after the checks the schema cannot make.
Usage: {{ $models := include "condition-based.models" . | fromYamlArray }}
*/}}
{{- define "condition-based.models" -}}
{{- $models := list (dict "name" "default" "model" .Values.default.model) -}}
{{- $names := list "default" -}}
{{- range .Values.routes -}}
{{- if has .name $names -}}
{{- fail (printf "routes: %q is given twice (or is default, the name of the default model); each route needs a name of its own" .name) -}}
{{- end -}}
{{- $names = append $names .name -}}
{{- if eq (len (pick . "model" "use")) 1 | not -}}
{{- fail (printf "route %s: give its model, or `use` and the name of the route (or default) whose model it shares, not both" .name) -}}
{{- end -}}
{{- if .model -}}
{{- $models = append $models (dict "name" .name "model" .model) -}}
{{- end -}}
{{- end -}}
{{- range .Values.routes -}}
{{- if .use -}}
{{- $served := list -}}
{{- range $models }}{{ $served = append $served .name }}{{ end -}}
{{- if not (has .use $served) -}}
{{- fail (printf "route %s uses %q, which is not a route with a model, nor default (those are: %s)" .name .use (join ", " $served)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $models -}}
{{- end -}}

{{/*
condition-based.routes: each route's match to its model (or the one it uses), then the default.
*/}}
{{- define "condition-based.routes" -}}
{{- range .Values.routes }}
{{- if not .match.body }}
{{- $headers := dict }}
{{- range $name, $value := (default dict .match.headers) }}
{{- $_ := set $headers $name (kindIs "string" $value | ternary (dict "exact" $value) $value) }}
{{- end }}
- name: {{ .name }}
  match:
    {{- with $headers }}
    headers:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with .match.uriPrefix }}
    uriPrefix: {{ . }}
    {{- end }}
  to:
    - variant: {{ .use | default .name }}
      weight: 100
{{- end }}
{{- end }}
- name: default
  to:
    {{- if include "condition-based.bodyRoutes" . | fromYamlArray }}
    # The body's conditions are the InferenceGraph's (a Switch), which ends at the default model.
    - service: {{ include "mlpatterns.graphName" (dict "root" . "graphSuffix" true) }}
    {{- else }}
    - variant: default
    {{- end }}
      weight: 100
{{- end -}}

{{/*
condition-based.bodyRoutes: the routes on the request body, in order, after the check the schema
cannot make (a route matches on the body, or on headers and path, not both: the mesh matches those
before the body is read).
*/}}
{{- define "condition-based.bodyRoutes" -}}
{{- $found := list -}}
{{- range .Values.routes -}}
{{- if .match.body -}}
{{- if or .match.headers .match.uriPrefix -}}
{{- fail (printf "route %s matches on the body and on headers or a path: the mesh matches headers and paths, the InferenceGraph the body; give each its own route" .name) -}}
{{- end -}}
{{- $found = append $found . -}}
{{- end -}}
{{- end -}}
{{- toYaml $found -}}
{{- end -}}

{{/*
condition-based.switch: the InferenceGraph's nodes for the body routes: root, a Switch whose first
condition that exists in the request picks its model, and the default model last, on a condition
that always exists (@this: the whole body), so no request goes unanswered.
*/}}
{{- define "condition-based.switch" -}}
{{- $steps := list -}}
{{- range include "condition-based.bodyRoutes" . | fromYamlArray -}}
{{- $steps = concat $steps (include "mlpatterns.graphStep" (dict "root" $ "name" .name "model" (.use | default .name) "step" (dict "condition" .match.body)) | fromYamlArray) -}}
{{- end -}}
{{- $steps = concat $steps (include "mlpatterns.graphStep" (dict "root" . "model" "default" "step" (dict "condition" "@this")) | fromYamlArray) -}}
root:
  routerType: Switch
  steps:
    {{- toYaml $steps | nindent 4 }}
{{- end -}}
