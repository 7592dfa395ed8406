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
- name: default
  to:
    - variant: default
      weight: 100
{{- end -}}
