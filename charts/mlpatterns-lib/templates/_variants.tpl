{{/*
Charts with several models side by side (shadow-ab's primary and shadow, online-ab's variants,
condition-based's routes): each model is an InferenceService of its own, rendered by the same
templates as a single-model chart, from the chart's values with the variant's changes.
*/}}

{{/*
mlpatterns.variantName: the InferenceService name of a variant, <fullname>-<variant>, cut so that
KServe's "-predictor" Service name still fits in 63 characters.
Usage: {{ include "mlpatterns.variantName" (dict "root" . "name" "shadow") }}
*/}}
{{- define "mlpatterns.variantName" -}}
{{- $suffix := printf "-%s" .name -}}
{{- $room := sub 53 (len $suffix) | int -}}
{{- if lt $room 1 -}}
{{- fail (printf "the variant name %q is too long: KServe's Service names must fit 63 characters" .name) -}}
{{- end -}}
{{- printf "%s%s" (include "mlpatterns.fullname" .root | trunc $room | trimSuffix "-") $suffix -}}
{{- end -}}

{{/*
mlpatterns.variantService: the Service KServe creates for a variant's predictor (port 80).
Usage: {{ include "mlpatterns.variantService" (dict "root" . "name" "shadow") }}
*/}}
{{- define "mlpatterns.variantService" -}}
{{- include "mlpatterns.variantName" . }}-predictor
{{- end -}}

{{/*
mlpatterns.variantHost: the in-cluster host of a variant's predictor, as routes name it.
Usage: {{ include "mlpatterns.variantHost" (dict "root" . "name" "shadow") }}
*/}}
{{- define "mlpatterns.variantHost" -}}
{{- include "mlpatterns.variantService" . }}.{{ .root.Release.Namespace }}.svc.cluster.local
{{- end -}}

{{/*
mlpatterns.variantValues: the values a variant renders with, as YAML: the chart's own, with the
variant's name as the full name, its model (.model: uri, version, format; the name and tracking
server are the chart's), its role (.role, on metrics and prediction-log events), and the release's
one ServiceAccount and ServingRuntime. With .releaseRedisLog, its prediction log goes to the
release's own Redis; .isvcName replaces its name.
Usage: {{ include "mlpatterns.variantValues" (dict "root" . "name" "shadow" "role" "shadow" "model" .Values.shadow.model) | fromYaml }}
*/}}
{{- define "mlpatterns.variantValues" -}}
{{- $root := .root -}}
{{- /* set, not merge: merging would keep the chart's true where the variant says false. */ -}}
{{- $values := deepCopy $root.Values -}}
{{- $model := deepCopy .model -}}
{{- $_ := set $model "name" $root.Values.model.name -}}
{{- $_ = set $model "trackingUri" $root.Values.model.trackingUri -}}
{{- $server := deepCopy $root.Values.server -}}
{{- $_ = set $server "role" .role -}}
{{- $_ = set $server "releaseRedisLog" (default false .releaseRedisLog) -}}
{{- $_ = set $values "fullnameOverride" (default (include "mlpatterns.variantName" .) .isvcName) -}}
{{- $_ = set $values "model" $model -}}
{{- $_ = set $values "server" $server -}}
{{- $_ = set $values "runtime" (dict "create" false "name" (include "mlpatterns.runtimeName" $root)) -}}
{{- $_ = set $values "serviceAccount" (dict "create" false "name" (include "mlpatterns.serviceAccountName" $root)) -}}
{{- with $root.Values.redis }}
{{- if .create }}
{{- /* The release's one Redis, by its own name (a variant's name would name another). */ -}}
{{- $url := printf "redis://%s.%s.svc:6379/0" (include "mlpatterns.redisName" $root) $root.Release.Namespace -}}
{{- $_ = set $values "redis" (merge (dict "create" false "url" $url) (omit . "create" "url")) -}}
{{- end }}
{{- end }}
{{- toYaml $values -}}
{{- end -}}

{{/*
mlpatterns.variantServing: everything one variant runs as: its InferenceService (.canaries, a
list of name, weight and model, adds KServe's own canaries to it, each with its own role), the
mesh's AuthorizationPolicy for its pods, their NetworkPolicy, PodDisruptionBudget and PodMonitor.
.uriValue names where the model's uri was set, for errors (e.g. shadow.model.uri);
.canaryTrafficPercent is Knative's split; .isvcName names the InferenceService (default
<fullname>-<variant>) when its name must outlive the variant's (KServe's own canaries).
Usage: {{ include "mlpatterns.variantServing" (dict "root" . "name" "shadow" "role" "shadow" "model" .Values.shadow.model "uriValue" "shadow.model.uri") }}
*/}}
{{- define "mlpatterns.variantServing" -}}
{{- /* The chart's own context with the variant's values: the lib's templates render it as a chart. */ -}}
{{- $values := include "mlpatterns.variantValues" . | fromYaml -}}
{{- $ctx := dict "Values" $values "Release" .root.Release "Chart" .root.Chart "Capabilities" .root.Capabilities "Template" .root.Template -}}
{{- $selector := include "mlpatterns.inferenceServiceSelector" (dict "root" $ctx) -}}
{{- $predictors := include "mlpatterns.inferenceServiceSelector" (dict "root" $ctx "component" "predictor") }}
{{- $canaries := list }}
{{- range .canaries }}
{{- $canaryValues := include "mlpatterns.variantValues" (dict "root" $.root "name" .name "role" .name "model" .model "releaseRedisLog" $.releaseRedisLog) | fromYaml }}
{{- $canaryCtx := dict "Values" $canaryValues "Release" $.root.Release "Chart" $.root.Chart "Capabilities" $.root.Capabilities "Template" $.root.Template }}
{{- $canaries = append $canaries (dict "name" .name "weight" .weight "ctx" $canaryCtx) }}
{{- end }}
---
{{ include "mlpatterns.inferenceService" (dict "root" $ctx "uri" .model.uri "uriValue" .uriValue "canaries" $canaries "logger" .logger "canaryTrafficPercent" .canaryTrafficPercent) }}
---
{{ include "mlpatterns.meshPolicies" (dict "root" $ctx "selector" $selector) }}
---
{{ include "mlpatterns.networkPolicy" (dict "root" $ctx "selector" $selector "port" 8080) }}
---
{{ include "mlpatterns.pdb" (dict "root" $ctx "replicas" $ctx.Values.predictor.minReplicas "selector" $predictors) }}
---
{{ include "mlpatterns.podMonitor" (dict "root" $ctx "isvc" (include "mlpatterns.fullname" $ctx) "port" "http1") }}
{{- end -}}
