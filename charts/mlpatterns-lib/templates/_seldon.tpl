{{/*
Seldon Core as the backend (.Values.backend): the same patterns as Seldon's own resources.
seldon-core-v1: a SeldonDeployment whose predictors run the kit's model server as custom model
containers (Seldon's executor speaks .Values.seldon.protocol to them: seldon or v2).
seldon-core-v2: Models served by Seldon's own servers (MLServer, Triton), and an Experiment or a
Pipeline over them.
*/}}

{{/*
mlpatterns.backend: .Values.backend, after refusing what only KServe's backend does (Seldon's
operator makes the pods, their Services and Istio routes itself).
Usage: {{ $backend := include "mlpatterns.backend" . }}
*/}}
{{- define "mlpatterns.backend" -}}
{{- $backend := .Values.backend -}}
{{- if ne $backend "kserve" -}}
{{- if and (hasKey .Values "trafficRouter") (ne .Values.trafficRouter "istio") -}}
{{- fail (printf "trafficRouter %s routes KServe's InferenceServices; with backend %s Seldon routes (its operator writes the Istio or Ambassador routes): leave trafficRouter at istio" .Values.trafficRouter $backend) -}}
{{- end -}}
{{- if .Values.mesh.enabled -}}
{{- fail (printf "mesh.enabled writes Istio policies for the pods KServe makes; with backend %s Seldon makes them: leave mesh.enabled false and secure them as Seldon's install documents" $backend) -}}
{{- end -}}
{{- if ne .Values.deploymentMode "Standard" -}}
{{- fail (printf "deploymentMode %s is KServe's; with backend %s leave it at Standard" .Values.deploymentMode $backend) -}}
{{- end -}}
{{- end -}}
{{- $backend -}}
{{- end -}}

{{/*
mlpatterns.seldonProtocol: what Seldon Core 1's executor speaks to the kit's servers:
.Values.seldon.protocol, or seldon where a chart offers no choice (a COMBINER's API is Seldon's).
*/}}
{{- define "mlpatterns.seldonProtocol" -}}
{{- .Values.seldon.protocol | default "seldon" -}}
{{- end -}}

{{/*
mlpatterns.seldonServerContainer: the model server as a custom model container of a Seldon Core 1
predictor: it fetches its model itself (--model_uri), and answers Seldon's executor on port 8080
(the port named http, which the operator takes as the node's endpoint). With protocol v2 the
executor calls /v2/models/<node>/infer, so the server's model name is the node's name.
Usage: {{ include "mlpatterns.seldonServerContainer" (dict "root" . "node" "iris" "role" "primary" "model" .Values.primary.model "uriValue" "primary.model.uri") }}
*/}}
{{- define "mlpatterns.seldonServerContainer" -}}
{{- $values := include "mlpatterns.variantValues" (dict "root" .root "name" .node "role" .role "model" .model "releaseRedisLog" .releaseRedisLog) | fromYaml -}}
{{- if eq (include "mlpatterns.seldonProtocol" .root) "v2" }}{{ $_ := set $values.model "name" .node }}{{ end -}}
{{- /* A read-only root: MLflow and the downloads write under HOME (KServe's runtime sets it too). */ -}}
{{- $_ := set $values.server "env" (prepend (default list $values.server.env) (dict "name" "HOME" "value" "/tmp")) -}}
{{- $ctx := dict "Values" $values "Release" .root.Release "Chart" .root.Chart "Capabilities" .root.Capabilities "Template" .root.Template -}}
{{- $uri := include "mlpatterns.modelUri" (dict "root" $ctx "uri" .model.uri "value" .uriValue) -}}
{{- if hasPrefix "pvc://" $uri -}}
{{- fail (printf "%s is %s: with backend seldon-core-v1 the server fetches its model itself, and a pvc:// volume is not mounted; give s3://, gs://, https:// or models:/" .uriValue $uri) -}}
{{- end -}}
name: {{ .node }}
image: {{ include "mlpatterns.image" (dict "image" .root.Values.image "root" .root) }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
args:
  - --model_uri={{ $uri }}
  - --model_dir=/tmp/model
  {{- include "mlpatterns.serverArgs" $ctx | nindent 2 }}
ports:
  {{- include "mlpatterns.serverPorts" (dict "root" $ctx "name" "http") | nindent 2 }}
{{ include "mlpatterns.serverProbes" $ctx }}
{{ include "mlpatterns.serverContainerSettings" (dict "root" $ctx) }}
{{- end -}}

{{/*
mlpatterns.seldonNode: a node of a Seldon Core 1 graph served by a container of the same name
on port 8080; .type MODEL (default) or COMBINER, .children the nodes it passes its output to.
Usage: {{ include "mlpatterns.seldonNode" (dict "name" "iris" "children" list) }}
*/}}
{{- define "mlpatterns.seldonNode" -}}
name: {{ .name }}
type: {{ .type | default "MODEL" }}
endpoint:
  type: REST
  httpPort: 8080
children:
  {{- toYaml (default list .children) | nindent 2 }}
{{- end -}}

{{/*
mlpatterns.seldonPodLabels: what the pods of the release's Seldon predictors carry besides the
release's labels: component predictor (the release's Redis admits them by it) and the backend.
*/}}
{{- define "mlpatterns.seldonPodLabels" -}}
component: predictor
mlpatterns.dev/backend: seldon-core-v1
{{- end -}}

{{/*
mlpatterns.seldonDeployment: the release's SeldonDeployment and the PodMonitor of its pods.
.predictors: a list of dicts: name, traffic (percent; for a shadow, the share mirrored to it),
shadow, graph (a node from mlpatterns.seldonNode) and containers (one per node, each in pods of
its own, as each model is an InferenceService of its own with KServe: every server listens on
8080, and scales on its own). Replicas and scaling come from .Values.predictor.
Usage: {{ include "mlpatterns.seldonDeployment" (dict "root" . "predictors" $predictors) }}
*/}}
{{- define "mlpatterns.seldonDeployment" -}}
{{- $root := .root -}}
{{- $scaling := include "mlpatterns.componentScaling" (dict "root" $root "component" $root.Values.predictor "name" "predictor") | fromYaml -}}
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: {{ include "mlpatterns.fullname" $root }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
spec:
  protocol: {{ include "mlpatterns.seldonProtocol" $root }}
  transport: rest
  predictors:
    {{- range .predictors }}
    - name: {{ .name }}
      replicas: {{ $scaling.minReplicas }}
      traffic: {{ .traffic }}
      {{- if .shadow }}
      shadow: true
      {{- end }}
      labels:
        {{- include "mlpatterns.labels" $root | nindent 8 }}
        {{- include "mlpatterns.seldonPodLabels" $root | nindent 8 }}
        mlpatterns.dev/predictor: {{ .name }}
      {{- with $root.Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      componentSpecs:
        {{- range .containers }}
        - spec:
            serviceAccountName: {{ include "mlpatterns.serviceAccountName" $root }}
            securityContext:
              {{- include "mlpatterns.podSecurityContext" $root | nindent 14 }}
            {{- include "mlpatterns.placement" $root | nindent 12 }}
            containers:
              - {{- toYaml . | nindent 16 }}
            volumes:
              {{- include "mlpatterns.tmpVolume" (dict "size" $root.Values.server.tmpSize) | nindent 14 }}
          {{- if gt (int $scaling.maxReplicas) (int $scaling.minReplicas) }}
          hpaSpec:
            minReplicas: {{ $scaling.minReplicas }}
            maxReplicas: {{ $scaling.maxReplicas }}
            metrics:
              - type: Resource
                resource:
                  name: {{ $scaling.scaleMetric }}
                  targetAverageUtilization: {{ $scaling.scaleTarget }}
          {{- end }}
          {{- if gt (int $scaling.minReplicas) 1 }}
          pdbSpec:
            maxUnavailable: 1
          {{- end }}
        {{- end }}
      graph:
        {{- toYaml .graph | nindent 8 }}
    {{- end }}
{{- if $root.Values.monitoring.enabled }}
---
{{- /* The server's /metrics by port number: Seldon's executor, in the same pod, also names a port http. */}}
{{ include "mlpatterns.podMonitor" (dict "root" $root "selector" (printf "app.kubernetes.io/instance: %s\n%s" $root.Release.Name (include "mlpatterns.seldonPodLabels" $root)) "portNumber" ($root.Values.monitoring.port | default 8080)) }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.seldonModelName: the name of a Seldon Core 2 Model of the release, <fullname>-<name>.
*/}}
{{- define "mlpatterns.seldonModelName" -}}
{{- include "mlpatterns.variantName" . -}}
{{- end -}}

{{/*
mlpatterns.seldonModel: a Seldon Core 2 Model: the artifact at .model.uri, scheduled on a Server
of Seldon's that offers its format (.Values.seldon.requirements, or the model's format).
Seldon's agents fetch it with rclone, so MLflow registry URIs and local paths are refused.
Usage: {{ include "mlpatterns.seldonModel" (dict "root" . "name" "primary" "model" .Values.primary.model "uriValue" "primary.model.uri") }}
*/}}
{{- define "mlpatterns.seldonModel" -}}
{{- $root := .root -}}
{{- $uri := required (printf "%s: where the model comes from" .uriValue) .model.uri -}}
{{- if not (regexMatch "^(s3|gs|https?)://" $uri) -}}
{{- fail (printf "%s is %s: Seldon Core 2's servers fetch artifacts themselves (rclone) from s3://, gs:// or https://; with backend seldon-core-v2 give one of those (models:/ needs the kit's own server: backend seldon-core-v1 or kserve)" .uriValue $uri) -}}
{{- end -}}
{{- $scaling := include "mlpatterns.componentScaling" (dict "root" $root "component" $root.Values.predictor "name" "predictor") | fromYaml -}}
{{- $seldon := $root.Values.seldon -}}
apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata:
  name: {{ include "mlpatterns.seldonModelName" . }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
    mlpatterns.dev/role: {{ .name }}
spec:
  storageUri: {{ $uri }}
  requirements:
    {{- toYaml (default (list .model.format) $seldon.requirements) | nindent 4 }}
  memory: {{ $seldon.memory }}
  replicas: {{ $scaling.minReplicas }}
  minReplicas: {{ $scaling.minReplicas }}
  maxReplicas: {{ $scaling.maxReplicas }}
  {{- with $seldon.server }}
  server: {{ . }}
  {{- end }}
{{- end -}}

{{/*
mlpatterns.seldonExperiment: a Seldon Core 2 Experiment over the release's Models: .candidates
(name, weight) share the traffic, .mirror (name, percent) gets a copy of it; .default is the
Model that answers requests sent to it by name while the Experiment runs.
Usage: {{ include "mlpatterns.seldonExperiment" (dict "root" . "default" "primary" "candidates" $candidates "mirror" $mirror) }}
*/}}
{{- define "mlpatterns.seldonExperiment" -}}
{{- $root := .root -}}
apiVersion: mlops.seldon.io/v1alpha1
kind: Experiment
metadata:
  name: {{ include "mlpatterns.fullname" $root }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
spec:
  default: {{ include "mlpatterns.seldonModelName" (dict "root" $root "name" .default) }}
  resourceType: model
  candidates:
    {{- range .candidates }}
    - name: {{ include "mlpatterns.seldonModelName" (dict "root" $root "name" .name) }}
      weight: {{ .weight }}
    {{- end }}
  {{- with .mirror }}
  mirror:
    name: {{ include "mlpatterns.seldonModelName" (dict "root" $root "name" .name) }}
    percent: {{ .percent }}
  {{- end }}
{{- end -}}

{{/*
mlpatterns.seldonPipeline: a Seldon Core 2 Pipeline over the release's Models, named like the
release. .steps: a list of dicts: name (a Model of the release), inputs (each "<step>" for that
step's outputs, or "$request" for the pipeline's own inputs); .output: the steps whose outputs
are the answer, .tensorMap renaming them, .stepsJoin how they are joined.
Usage: {{ include "mlpatterns.seldonPipeline" (dict "root" . "steps" $steps "output" $output) }}
*/}}
{{- define "mlpatterns.seldonPipeline" -}}
{{- $root := .root -}}
{{- $pipeline := include "mlpatterns.fullname" $root -}}
apiVersion: mlops.seldon.io/v1alpha1
kind: Pipeline
metadata:
  name: {{ $pipeline }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
spec:
  steps:
    {{- range .steps }}
    - name: {{ include "mlpatterns.seldonModelName" (dict "root" $root "name" .name) }}
      {{- with .inputs }}
      inputs:
        {{- range . }}
        - {{ if eq . "$request" }}{{ $pipeline }}.inputs{{ else }}{{ include "mlpatterns.seldonModelName" (dict "root" $root "name" .) }}.outputs{{ end }}
        {{- end }}
      {{- end }}
    {{- end }}
  output:
    steps:
      {{- range .output.steps }}
      - {{ include "mlpatterns.seldonModelName" (dict "root" $root "name" .) }}
      {{- end }}
    {{- with .output.tensorMap }}
    tensorMap:
      {{- range $step, $name := . }}
      {{ include "mlpatterns.seldonModelName" (dict "root" $root "name" $step) }}.outputs.predict: {{ $name }}
      {{- end }}
    {{- end }}
    {{- with .output.stepsJoin }}
    stepsJoin: {{ . }}
    {{- end }}
{{- end -}}

{{/*
mlpatterns.seldonEndpoint: where a client reaches the release on Seldon, as YAML (url, protocol,
headers) for mlpatterns.testPod: Seldon Core 1's executor Service of the predictor .predictor
(<deployment>-<predictor>, port 8000), or Seldon Core 2's seldon-mesh with the header that names
the release's Experiment or Pipeline (.resource: experiment or pipeline). .node names the model on
a v2 path.
Usage: {{ $endpoint := include "mlpatterns.seldonEndpoint" (dict "root" . "predictor" "primary" "node" "iris" "resource" "experiment") | fromYaml }}
*/}}
{{- define "mlpatterns.seldonEndpoint" -}}
{{- $root := .root -}}
{{- $name := include "mlpatterns.fullname" $root -}}
{{- if eq $root.Values.backend "seldon-core-v1" -}}
{{- $service := printf "http://%s-%s.%s.svc:8000" $name .predictor $root.Release.Namespace -}}
{{- if eq (include "mlpatterns.seldonProtocol" $root) "v2" }}
url: {{ printf "%s/v2/models/%s/infer" $service .node }}
protocol: v2
{{- else }}
url: {{ $service }}/api/v1.0/predictions
protocol: seldon
{{- end }}
headers: {}
{{- else }}
url: {{ printf "http://seldon-mesh.%s.svc/v2/models/%s/infer" $root.Release.Namespace $name }}
protocol: v2
headers:
  seldon-model: {{ printf "%s.%s" $name .resource }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.seldonNotes: the NOTES of a release on Seldon: what runs, and a request to send it.
.what says what the pattern is ("Shadow AB test of model 'iris'"); .predictor, .node and
.resource are mlpatterns.seldonEndpoint's.
Usage: {{ include "mlpatterns.seldonNotes" (dict "root" . "what" $what "predictor" "primary" "node" "iris" "resource" "experiment") }}
*/}}
{{- define "mlpatterns.seldonNotes" -}}
{{- $root := .root -}}
{{- $endpoint := include "mlpatterns.seldonEndpoint" . | fromYaml -}}
{{- $name := include "mlpatterns.fullname" $root -}}
{{- $rows := $root.Values.test.instances -}}
{{- $body := dict "data" (dict "ndarray" $rows) -}}
{{- if eq $endpoint.protocol "v2" -}}
{{- $flat := list }}{{ range $rows }}{{ $flat = concat $flat . }}{{ end -}}
{{- $body = dict "inputs" (list (dict "name" "input-0" "shape" (list (len $rows) (len (first $rows))) "datatype" "FP64" "data" $flat)) -}}
{{- end -}}
{{ .what }}, on {{ if eq $root.Values.backend "seldon-core-v1" }}Seldon Core 1: SeldonDeployment {{ $name }}, the kit's server in each predictor ({{ include "mlpatterns.seldonProtocol" $root }} protocol to Seldon's executor){{ else }}Seldon Core 2: Models {{ $name }}-* on Seldon's servers, behind the {{ .resource | title }} {{ $name }}{{ end }}.

Call it from inside the cluster:
  curl -s {{ $endpoint.url }} -H 'content-type: application/json'{{ range $header, $value := $endpoint.headers }} -H '{{ $header }}: {{ $value }}'{{ end }} -d '{{ toJson $body }}'

What maps to what between KServe and Seldon, and what differs: docs/seldon.md.
Check it end to end:
  helm test {{ $root.Release.Name }} -n {{ $root.Release.Namespace }}
{{- end -}}
