{{/*
KServe pieces: the InferenceService's annotations and per-component settings, and a namespaced
ServingRuntime for the model server so a chart works on a cluster that only has KServe.
*/}}

{{/*
mlpatterns.inferenceServiceAnnotations: the deployment mode (Standard: Deployment + HPA; Knative:
scale to zero), and the HPA autoscaler class that Standard mode with cpu/memory metrics needs.
Usage: annotations: {{- include "mlpatterns.inferenceServiceAnnotations" . | nindent 4 }}
*/}}
{{- define "mlpatterns.inferenceServiceAnnotations" -}}
serving.kserve.io/deploymentMode: {{ .Values.deploymentMode }}
{{- if .Values.mesh.enabled }}
sidecar.istio.io/inject: "true"
{{- end }}
{{- if has .Values.deploymentMode (list "Standard" "RawDeployment") }}
serving.kserve.io/autoscalerClass: hpa
{{- end }}
{{- end -}}

{{/*
mlpatterns.componentScaling: replicas and the scaling metric of one InferenceService component,
after checking what the schema cannot (min <= max, a metric the mode supports).
Usage: {{- include "mlpatterns.componentScaling" (dict "root" . "component" .Values.predictor "name" "predictor") | nindent 4 }}
*/}}
{{- define "mlpatterns.componentScaling" -}}
{{- $c := .component -}}
{{- if gt (int $c.minReplicas) (int $c.maxReplicas) -}}
{{- fail (printf "%s.minReplicas (%v) is above %s.maxReplicas (%v)" .name $c.minReplicas .name $c.maxReplicas) -}}
{{- end -}}
{{- if and (has .root.Values.deploymentMode (list "Standard" "RawDeployment")) (has $c.scaleMetric (list "concurrency" "rps")) -}}
{{- fail (printf "%s.scaleMetric %s needs deploymentMode Knative; Standard mode scales on cpu or memory" .name $c.scaleMetric) -}}
{{- end -}}
minReplicas: {{ $c.minReplicas }}
maxReplicas: {{ $c.maxReplicas }}
scaleMetric: {{ $c.scaleMetric }}
scaleTarget: {{ $c.scaleTarget }}
{{- end -}}

{{/*
mlpatterns.componentPod: pod-level settings of a component: pod annotations (KServe puts a
component's annotations on its pods), identity, restricted security and placement. (Volumes: a runtime-based predictor gets /tmp from the ServingRuntime; components with
their own containers add mlpatterns.tmpVolume.)
Usage: {{- include "mlpatterns.componentPod" . | nindent 4 }}
*/}}
{{- define "mlpatterns.componentPod" -}}
{{- with .Values.podAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
serviceAccountName: {{ include "mlpatterns.serviceAccountName" . }}
securityContext:
  {{- include "mlpatterns.podSecurityContext" . | nindent 2 }}
{{- include "mlpatterns.placement" . }}
{{- end -}}

{{/*
mlpatterns.inferenceService: the InferenceService of a pattern. The predictor is either the
model server runtime with the model at .uri, or (.bakedImage) the server image with the model
inside, which needs no storage at all. KServe's storage initializer fetches s3://, gs://, pvc://
and https:// URIs into /mnt/models; it does not read the MLflow registry, so the server fetches
models:/ URIs itself. .transformer adds a transformer component running the server in
transformer mode in its own pods, with .transformer.uri as its preprocessor. .logger (mode, url)
turns on KServe's inference logger for the predictor. .canaries (a list of name, weight and ctx,
a variant's template context) adds KServe's own canaries, and .canaryTrafficPercent Knative's
split between this revision and the one before. .uriValue names the value .uri came from in
errors (default model.uri).
Usage: {{ include "mlpatterns.inferenceService" (dict "root" . "uri" .Values.model.uri) }}
*/}}
{{- define "mlpatterns.inferenceService" -}}
{{- $root := .root -}}
{{- $uri := "" -}}
{{- if not .bakedImage -}}
{{- $uri = include "mlpatterns.modelUri" (dict "root" $root "uri" .uri "value" (default "model.uri" .uriValue)) -}}
{{- end -}}
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {{ include "mlpatterns.fullname" $root }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
  annotations:
    {{- include "mlpatterns.inferenceServiceAnnotations" $root | nindent 4 }}
spec:
  predictor:
    {{- include "mlpatterns.componentScaling" (dict "root" $root "component" $root.Values.predictor "name" "predictor") | nindent 4 }}
    {{- if not (kindIs "invalid" .canaryTrafficPercent) }}
    # Knative mode: this revision gets this share, the revision rolled out before it the rest.
    canaryTrafficPercent: {{ .canaryTrafficPercent }}
    {{- end }}
    {{- with .logger }}
    # KServe's inference logger: every request and response as CloudEvents to .url.
    logger:
      mode: {{ .mode }}
      url: {{ .url }}
    {{- end }}
    {{- include "mlpatterns.componentPod" $root | nindent 4 }}
    {{- if .bakedImage }}
    volumes:
      {{- include "mlpatterns.tmpVolume" (dict "size" $root.Values.server.tmpSize) | nindent 6 }}
    containers:
      - name: kserve-container
        image: {{ .bakedImage }}
        imagePullPolicy: {{ $root.Values.image.pullPolicy }}
        args:
          {{- include "mlpatterns.serverArgs" $root | nindent 10 }}
        ports:
          {{- include "mlpatterns.serverPorts" (dict "root" $root "name" "http1") | nindent 10 }}
        {{- include "mlpatterns.serverProbes" $root | nindent 8 }}
        {{- include "mlpatterns.serverContainerSettings" (dict "root" $root) | nindent 8 }}
    {{- else }}
    {{- include "mlpatterns.predictorModel" (dict "root" $root "uri" $uri) | nindent 4 }}
    {{- end }}
  {{- with .canaries }}
  # KServe's own canaries (Standard mode): each its own Deployment with fixed replicas and a share
  # of the traffic, on the HTTPRoute KServe makes; the rest goes to the predictor above.
  canary:
    {{- range . }}
    - trafficPercent: {{ .weight }}
      predictor:
        name: {{ .name }}
        minReplicas: {{ .ctx.Values.predictor.minReplicas }}
        {{- include "mlpatterns.componentPod" .ctx | nindent 8 }}
        {{- $canaryUri := include "mlpatterns.modelUri" (dict "root" .ctx "uri" .ctx.Values.model.uri "value" (printf "variants[%s].model.uri" .name)) }}
        {{- include "mlpatterns.predictorModel" (dict "root" .ctx "uri" $canaryUri "named" true) | nindent 8 }}
    {{- end }}
  {{- end }}
  {{- with .transformer }}
  transformer:
    {{- include "mlpatterns.componentScaling" (dict "root" $root "component" . "name" "transformer") | nindent 4 }}
    {{- include "mlpatterns.componentPod" $root | nindent 4 }}
    volumes:
      {{- include "mlpatterns.tmpVolume" (dict "size" $root.Values.server.tmpSize) | nindent 6 }}
    containers:
      - name: kserve-container
        image: {{ include "mlpatterns.image" (dict "image" $root.Values.image "root" $root) }}
        imagePullPolicy: {{ $root.Values.image.pullPolicy }}
        args:
          - --model_uri={{ include "mlpatterns.modelUri" (dict "root" $root "uri" .uri "value" "transformer.uri") }}
          - --model_name={{ $root.Values.model.name }}
          - --http_port=8080
          - --role={{ $root.Values.server.role }}
          - --predictor_protocol={{ .predictorProtocol }}
          - --workers={{ .workers }}
          {{- with $root.Values.monitoring.port }}
          - --metrics_port={{ . }}
          {{- end }}
        ports:
          {{- include "mlpatterns.serverPorts" (dict "root" $root "name" "http1") | nindent 10 }}
        {{- include "mlpatterns.serverProbes" $root | nindent 8 }}
        {{- include "mlpatterns.serverContainerSettings" (dict "root" $root "resources" .resources) | nindent 8 }}
  {{- end }}
{{- end -}}

{{/*
mlpatterns.predictorModel: the `model` of a runtime-based predictor: its format, the runtime, where
KServe's storage initializer fetches it (or, for models:/ and local paths, the server itself), and
the server's arguments and container settings, which KServe merges into the runtime's container.
.named names its container (a canary's must be).
Usage: {{- include "mlpatterns.predictorModel" (dict "root" . "uri" $checkedUri) | nindent 4 }}
*/}}
{{- define "mlpatterns.predictorModel" -}}
{{- $root := .root -}}
{{- $fetchedByServer := or (hasPrefix "models:/" .uri) (hasPrefix "/" .uri) (hasPrefix "file://" .uri) -}}
model:
  {{- if .named }}
  # A canary's model container is named (KServe's schema asks it), as the runtime's container is.
  name: kserve-container
  {{- end }}
  modelFormat:
    name: {{ $root.Values.model.format }}
  runtime: {{ include "mlpatterns.runtimeName" $root }}
  {{- if not $fetchedByServer }}
  storageUri: {{ .uri }}
  {{- end }}
  args:
    {{- if $fetchedByServer }}
    - --model_uri={{ .uri }}
    # Replaces the runtime's --model_dir=/mnt/models (nothing mounts it): the download goes to /tmp.
    - --model_dir=/tmp/model
    {{- end }}
    {{- include "mlpatterns.serverArgs" $root | nindent 4 }}
  {{- /* KServe merges these into the runtime's container: the startup probe's budget is the chart's. */}}
  {{- include "mlpatterns.serverProbes" $root | nindent 2 }}
  {{- include "mlpatterns.serverContainerSettings" (dict "root" $root) | nindent 2 }}
{{- end -}}

{{/*
mlpatterns.runtimeName: the ServingRuntime the predictor names: the chart's own, or an existing one.
Usage: runtime: {{ include "mlpatterns.runtimeName" . }}
*/}}
{{- define "mlpatterns.runtimeName" -}}
{{- if .Values.runtime.create -}}
{{- include "mlpatterns.fullname" . -}}
{{- else -}}
{{- .Values.runtime.name -}}
{{- end -}}
{{- end -}}

{{/*
mlpatterns.servingRuntime: a namespaced ServingRuntime running the model server, when
.Values.runtime.create (the platform's ClusterServingRuntime in manifests/kserve is the same
runtime for the whole cluster; a test keeps the two alike).
Usage: {{ include "mlpatterns.servingRuntime" . }}
*/}}
{{- define "mlpatterns.servingRuntime" -}}
{{- if .Values.runtime.create }}
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: {{ include "mlpatterns.runtimeName" . }}
  namespace: {{ include "mlpatterns.namespace" . }}
  labels:
    {{- include "mlpatterns.labels" . | nindent 4 }}
spec:
  annotations:
    prometheus.kserve.io/port: {{ .Values.monitoring.port | default 8080 | quote }}
    prometheus.kserve.io/path: /metrics
  supportedModelFormats:
    - name: sklearn
      version: "1"
      autoSelect: false
    - name: xgboost
      version: "3"
      autoSelect: false
    - name: onnx
      version: "1"
      autoSelect: false
    - name: mlflow
      version: "3"
      autoSelect: false
  protocolVersions:
    - v1
    - v2
  containers:
    - name: kserve-container
      image: {{ include "mlpatterns.image" (dict "image" .Values.image "root" .) }}
      args:
        - --model_name={{ "{{.Name}}" }}
        - --model_dir=/mnt/models
        - --http_port=8080
      env:
        - name: MLPATTERNS_DOWNLOAD_DIR
          value: /tmp/models
        - name: HOME
          value: /tmp
      ports:
        {{- include "mlpatterns.serverPorts" (dict "root" . "name" "http1") | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /v2/health/ready
          port: 8080
        periodSeconds: 5
      livenessProbe:
        httpGet:
          path: /v2/health/live
          port: 8080
        periodSeconds: 10
      securityContext:
        {{- include "mlpatterns.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        {{- include "mlpatterns.tmpVolumeMount" . | nindent 8 }}
  volumes:
    {{- include "mlpatterns.tmpVolume" (dict "size" .Values.server.tmpSize) | nindent 4 }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.inferenceServiceSelector: the labels KServe puts on the pods of one component of the
release's InferenceService (its pods carry no chart labels).
Usage: {{ include "mlpatterns.inferenceServiceSelector" (dict "root" . "component" "predictor") }}
*/}}
{{- define "mlpatterns.inferenceServiceSelector" -}}
serving.kserve.io/inferenceservice: {{ include "mlpatterns.fullname" .root }}
{{- with .component }}
component: {{ . }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.inferenceServiceURL: the in-cluster v1 predict URL of a component's Service
(<isvc>-<component>, port 80 in both Standard and Knative modes).
Usage: {{ include "mlpatterns.inferenceServiceURL" (dict "root" . "component" "predictor") }}
*/}}
{{- define "mlpatterns.inferenceServiceURL" -}}
{{- printf "http://%s-%s.%s.svc/v1/models/%s:predict" (include "mlpatterns.fullname" .root) .component .root.Release.Namespace .root.Values.model.name -}}
{{- end -}}
