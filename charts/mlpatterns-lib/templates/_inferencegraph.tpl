{{/*
KServe InferenceGraphs (serving.kserve.io/v1alpha1): a router in front of a chart's models, each an
InferenceService of its own (_variants.tpl), so each scales and fails on its own. A chart builds
the graph's nodes; steps name the models by their variant name, which becomes the step's name and
its serviceName (KServe resolves it to that InferenceService's predict URL).
*/}}

{{/*
mlpatterns.graphStep: one step of a node for a model of the chart: its name (.name, by default
the model's), serviceName and the given step fields (data, mapPredictionsToInstances, condition,
weight, dependency), those unset left out.
Usage: {{ include "mlpatterns.graphStep" (dict "root" . "model" "classify" "step" (dict "data" "$response")) }}
*/}}
{{- define "mlpatterns.graphStep" -}}
- name: {{ .name | default .model }}
  serviceName: {{ include "mlpatterns.variantName" (dict "root" .root "name" .model) }}
  {{- range $key := list "data" "mapPredictionsToInstances" "condition" "weight" "dependency" }}
  {{- $value := get $.step $key }}
  {{- if not (kindIs "invalid" $value) }}
  {{- if or (kindIs "bool" $value) (ne (toString $value) "") }}
  {{ $key }}: {{ kindIs "string" $value | ternary (toJson $value) $value }}
  {{- end }}
  {{- end }}
  {{- end }}
{{- end -}}

{{/*
mlpatterns.graphName: the InferenceGraph's name, <fullname>-graph when .graphSuffix, else
<fullname>; KServe names the router's Deployment and Service after it.
*/}}
{{- define "mlpatterns.graphName" -}}
{{- if .graphSuffix -}}
{{- include "mlpatterns.componentName" (dict "root" .root "component" "graph") -}}
{{- else -}}
{{- include "mlpatterns.fullname" .root -}}
{{- end -}}
{{- end -}}

{{/*
mlpatterns.inferenceGraph: the release's InferenceGraph with .nodes (a dict: node name to
{routerType, steps}; "root" is where requests start), its router in the chart's deployment mode,
run as the release's ServiceAccount (so the mesh admits its calls to the models), with
.Values.router's replicas, resources and per-step timeout. .graphSuffix names it
<fullname>-graph (when the entry Service keeps <fullname>).
Usage: {{ include "mlpatterns.inferenceGraph" (dict "root" . "nodes" $nodes) }}
*/}}
{{- define "mlpatterns.inferenceGraph" -}}
{{- $root := .root -}}
{{- $router := $root.Values.router -}}
{{- if gt (int $router.minReplicas) (int $router.maxReplicas) -}}
{{- fail (printf "router.minReplicas (%v) is above router.maxReplicas (%v)" $router.minReplicas $router.maxReplicas) -}}
{{- end -}}
apiVersion: serving.kserve.io/v1alpha1
kind: InferenceGraph
metadata:
  name: {{ include "mlpatterns.graphName" . }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
  annotations:
    serving.kserve.io/deploymentMode: {{ $root.Values.deploymentMode }}
    {{- if $root.Values.mesh.enabled }}
    sidecar.istio.io/inject: "true"
    {{- end }}
spec:
  nodes:
    {{- toYaml .nodes | nindent 4 }}
  serviceAccountName: {{ include "mlpatterns.serviceAccountName" $root }}
  minReplicas: {{ $router.minReplicas }}
  maxReplicas: {{ $router.maxReplicas }}
  resources:
    {{- toYaml $router.resources | nindent 4 }}
  {{- with $router.stepTimeoutSeconds }}
  routerTimeouts:
    serviceClient: {{ . }}
  {{- end }}
  {{- with $root.Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
mlpatterns.graphModels: the chart's .Values.models as a list of names, after the checks the
schema cannot make (each name once).
Usage: {{ $names := include "mlpatterns.graphModels" . | fromYamlArray }}
*/}}
{{- define "mlpatterns.graphModels" -}}
{{- $names := list -}}
{{- range .Values.models -}}
{{- if has .name $names -}}
{{- fail (printf "models: %q is given twice; each model needs a name of its own" .name) -}}
{{- end -}}
{{- $names = append $names .name -}}
{{- end -}}
{{- toYaml $names -}}
{{- end -}}

{{/*
mlpatterns.graphModelServing: every model of .Values.models as an InferenceService of its own,
named <fullname>-<name>, with its name as its role.
Usage: {{ include "mlpatterns.graphModelServing" . }}
*/}}
{{- define "mlpatterns.graphModelServing" -}}
{{- $log := not .Values.server.predictionLog.redisUrl }}
{{- range $index, $model := .Values.models }}
{{- include "mlpatterns.variantServing" (dict "root" $ "name" .name "role" .name "model" .model "uriValue" (printf "models[%d].model.uri" $index) "releaseRedisLog" $log) }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.aggregatorArgs: the arguments of the server's aggregate mode over .steps (in their
order: a vote's ties go to the earliest), from .Values.aggregator; .name is its role.
Usage: args: {{- include "mlpatterns.aggregatorArgs" (dict "root" . "name" "aggregator" "steps" $names "weights" $weights) | nindent 10 }}
*/}}
{{- define "mlpatterns.aggregatorArgs" -}}
- aggregate
- --model_name={{ .root.Values.model.name }}
- --role={{ .name }}
- --method={{ .root.Values.aggregator.method }}
- --steps={{ join "," .steps }}
{{- with .weights }}
- --weights={{ toJson . }}
{{- end }}
- --min_answers={{ .root.Values.aggregator.minAnswers }}
- --http_port=8080
{{- end -}}

{{/*
mlpatterns.aggregatorContainer: the server in aggregate mode as a container named .container, its
one port (8080, /metrics included) named .port: KServe's aggregator step, or the container of
Seldon Core 1's COMBINER node. .name, .steps and .weights are mlpatterns.aggregatorArgs'.
Usage: containers: - {{- include "mlpatterns.aggregatorContainer" (dict "root" . "container" "aggregator" "port" "http" "name" "aggregator" "steps" $names "weights" $weights) | nindent 8 }}
*/}}
{{- define "mlpatterns.aggregatorContainer" -}}
{{- $root := .root -}}
name: {{ .container }}
image: {{ include "mlpatterns.image" (dict "image" $root.Values.image "root" $root) }}
imagePullPolicy: {{ $root.Values.image.pullPolicy }}
args:
  {{- include "mlpatterns.aggregatorArgs" . | nindent 2 }}
ports:
  - name: {{ .port }}
    containerPort: 8080
    protocol: TCP
{{ include "mlpatterns.serverProbes" $root }}
resources:
  {{- toYaml $root.Values.aggregator.resources | nindent 2 }}
securityContext:
  {{- include "mlpatterns.containerSecurityContext" $root | nindent 2 }}
volumeMounts:
  {{- include "mlpatterns.tmpVolumeMount" $root | nindent 2 }}
{{- end -}}

{{/*
mlpatterns.aggregator: the InferenceService of an Ensemble's aggregator step (<fullname>-<.name>):
the model server image in its aggregate mode, no model, combining the steps' answers by
.Values.aggregator.method; .steps lists the Ensemble's steps in order, .weights their weights.
With it: its mesh policies, NetworkPolicy, PodDisruptionBudget and PodMonitor, as a model's.
Usage: {{ include "mlpatterns.aggregator" (dict "root" . "name" "aggregator" "steps" $names "weights" $weights) }}
*/}}
{{- define "mlpatterns.aggregator" -}}
{{- $root := .root -}}
{{- $values := include "mlpatterns.variantValues" (dict "root" $root "name" .name "role" .name "model" dict) | fromYaml -}}
{{- $_ := set $values "predictor" (merge (dict) $root.Values.aggregator.replicas (dict "scaleMetric" "cpu" "scaleTarget" 70)) -}}
{{- /* It serves /metrics on its one port: no --metrics_port of its own. */ -}}
{{- $_ = set $values "monitoring" (merge (dict "port" 0) (omit $root.Values.monitoring "port")) -}}
{{- $ctx := dict "Values" $values "Release" $root.Release "Chart" $root.Chart "Capabilities" $root.Capabilities "Template" $root.Template -}}
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {{ include "mlpatterns.fullname" $ctx }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
  annotations:
    {{- include "mlpatterns.inferenceServiceAnnotations" $ctx | nindent 4 }}
spec:
  predictor:
    {{- include "mlpatterns.componentScaling" (dict "root" $ctx "component" $values.predictor "name" "aggregator.replicas") | nindent 4 }}
    {{- include "mlpatterns.componentPod" $ctx | nindent 4 }}
    volumes:
      {{- include "mlpatterns.tmpVolume" (dict "size" $root.Values.server.tmpSize) | nindent 6 }}
    containers:
      - {{- include "mlpatterns.aggregatorContainer" (merge (dict "container" "kserve-container" "port" "http1") .) | nindent 8 }}
{{- $selector := include "mlpatterns.inferenceServiceSelector" (dict "root" $ctx) }}
---
{{ include "mlpatterns.meshPolicies" (dict "root" $ctx "selector" $selector) }}
---
{{ include "mlpatterns.networkPolicy" (dict "root" $ctx "selector" $selector "port" 8080) }}
---
{{ include "mlpatterns.pdb" (dict "root" $ctx "replicas" $values.predictor.minReplicas "selector" (include "mlpatterns.inferenceServiceSelector" (dict "root" $ctx "component" "predictor"))) }}
---
{{ include "mlpatterns.podMonitor" (dict "root" $ctx "isvc" (include "mlpatterns.fullname" $ctx) "port" "http1") }}
{{- end -}}
