{{/*
The model server container: image, arguments from .Values.server, probes and the writable /tmp.
Pattern charts assemble their container from these pieces.
*/}}

{{/*
mlpatterns.image: repository@digest when a digest is pinned, else repository:tag (the tag
defaulting to the chart's appVersion).
Usage: image: {{ include "mlpatterns.image" (dict "image" .Values.image "root" .) }}
*/}}
{{- define "mlpatterns.image" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
mlpatterns.modelUri: a model URI, checked: an MLflow registry URI (models:/, which the server
itself fetches) needs the tracking server the pods reach, model.trackingUri (or
MLFLOW_TRACKING_URI in server.env); without it the pod would only fail at start. .value names the
value in the error, the way users set it.
Usage: - --model_uri={{ include "mlpatterns.modelUri" (dict "root" . "uri" .Values.model.uri "value" "model.uri") }}
*/}}
{{- define "mlpatterns.modelUri" -}}
{{- $uri := required (printf "%s: where the model comes from" .value) .uri -}}
{{- $local := include "mlpatterns.local" .root -}}
{{- if and (or (hasPrefix "/" $uri) (hasPrefix "file://" $uri)) (not $local) -}}
{{- fail (printf "%s is %s, a path on this machine: it works with `mlpatterns up`, not in a cluster; give s3://, gs://, pvc://, https:// or models:/" .value $uri) -}}
{{- end -}}
{{- if and (hasPrefix "models:/" $uri) (not $local) -}}
{{- $env := dict -}}
{{- with .root.Values.server }}{{ range .env }}{{ $_ := set $env .name true }}{{ end }}{{ end -}}
{{- if not (or .root.Values.model.trackingUri (hasKey $env "MLFLOW_TRACKING_URI")) -}}
{{- fail (printf "%s is %s, a model in the MLflow registry: set model.trackingUri to the tracking server the pods can reach (e.g. --set model.trackingUri=http://mlflow.mlflow.svc:5000)" .value $uri) -}}
{{- end -}}
{{- end -}}
{{- $uri -}}
{{- end -}}

{{/*
mlpatterns.local: "true" when `mlpatterns up` renders the chart to run it on this machine
(global.mlpatternsLocal): a model may then be a local path, or a models:/ URI of the local MLflow
store, which needs no tracking server.
Usage: {{ if include "mlpatterns.local" . }}...{{ end }}
*/}}
{{- define "mlpatterns.local" -}}
{{- with .Values.global }}{{ if .mlpatternsLocal }}true{{ end }}{{ end -}}
{{- end -}}

{{/*
mlpatterns.serverArgs: the server's arguments from .Values.model and .Values.server, as list items.
The chart adds where the model comes from (--model_uri, or --model_dir from KServe).
Usage: args: {{- include "mlpatterns.serverArgs" . | nindent 12 }}
*/}}
{{- define "mlpatterns.serverArgs" -}}
- --model_name={{ .Values.model.name }}
- --http_port=8080
- --role={{ .Values.server.role }}
{{- with .Values.model.version }}
- --model_version={{ . }}
{{- end }}
- --workers={{ .Values.server.workers }}
{{- with .Values.server.batching }}
{{- if .enabled }}
- --enable_batching=true
- --max_batch_size={{ .maxBatchSize }}
- --max_batch_wait_ms={{ .maxBatchWaitMs }}
{{- end }}
{{- end }}
{{- include "mlpatterns.predictionLogArgs" . }}
{{- with .Values.cache }}
- --cache_ttl_seconds={{ .ttlSeconds }}
- --cache_max_value_bytes={{ int64 .maxValueBytes }}
- --cache_timeout_ms={{ .timeoutMs }}
{{- end }}
- --namespace={{ .Release.Namespace }}
{{- with .Values.monitoring.port }}
- --metrics_port={{ . }}
{{- end }}
{{- range .Values.server.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.predictionLogArgs: the prediction-log arguments from .Values.server.predictionLog, as
list items (each line starting with a newline). With .Values.server.releaseRedisLog (a variant of
a chart that runs its own Redis for the log) and no redisUrl, the URL comes from the environment.
Usage: {{- include "mlpatterns.predictionLogArgs" . | indent 12 }}
*/}}
{{- define "mlpatterns.predictionLogArgs" -}}
{{- $releaseRedis := .Values.server.releaseRedisLog -}}
{{- with .Values.server.predictionLog }}
- --prediction_log_sink={{ .sink }}
{{- if eq .sink "redis" }}
{{- if .redisUrl }}
- --prediction_log_redis_url={{ .redisUrl }}
{{- else if not $releaseRedis }}
{{- fail "server.predictionLog.redisUrl is needed for the redis sink" }}
{{- end }}
- --prediction_log_stream={{ .stream }}
{{- else if eq .sink "http" }}
- --prediction_log_http_url={{ required "server.predictionLog.httpUrl is needed for the http sink" .httpUrl }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.serverEnv: the MLflow tracking URI (for models:/), the cache's Redis URL (charts with
.Values.cache; from a Secret when it holds a password), the prediction log's (a variant logging to
the release's Redis) and .Values.server.env, as container env entries; empty when there are none.
Usage: {{- with include "mlpatterns.serverEnv" . }}
          env: {{- . | nindent 12 }}
        {{- end }}
*/}}
{{- define "mlpatterns.serverEnv" -}}
{{- with .Values.model.trackingUri }}
- name: MLFLOW_TRACKING_URI
  value: {{ . | quote }}
{{- end }}
{{- if .Values.cache }}
{{ include "mlpatterns.redisUrlEnv" (dict "root" . "name" "MLPATTERNS_CACHE_REDIS_URL") }}
{{- end }}
{{- with .Values.server }}
{{- if and .releaseRedisLog (eq .predictionLog.sink "redis") (not .predictionLog.redisUrl) }}
{{ include "mlpatterns.redisUrlEnv" (dict "root" $ "name" "MLPATTERNS_PREDICTION_LOG_REDIS_URL") }}
{{- end }}
{{- end }}
{{- with .Values.server.env }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.serverEnvFrom: the credentials Secret (.Values.credentialsSecret) as environment;
empty when none is named. Credentials reach the server only through Secrets or ServiceAccounts.
Usage: {{- with include "mlpatterns.serverEnvFrom" . }}
          envFrom: {{- . | nindent 12 }}
        {{- end }}
*/}}
{{- define "mlpatterns.serverEnvFrom" -}}
{{- with .Values.credentialsSecret }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.serverPorts: the server container's ports: predictions on 8080 (named .name, http by
default), and /metrics on .Values.monitoring.port when it has a port of its own.
Usage: ports: {{- include "mlpatterns.serverPorts" (dict "root" . "name" "http1") | nindent 12 }}
*/}}
{{- define "mlpatterns.serverPorts" -}}
- name: {{ .name | default "http" }}
  containerPort: 8080
  protocol: TCP
{{- with .root.Values.monitoring.port }}
{{- if eq (int .) 8080 }}
{{- fail "monitoring.port 8080 is the prediction port: give /metrics another port, or 0 to keep it on 8080" }}
{{- end }}
- name: metrics
  containerPort: {{ . }}
  protocol: TCP
{{- end }}
{{- end -}}

{{/*
mlpatterns.serverProbes: startup (generous, for model downloads), readiness and liveness probes
against the server's v2 health endpoints on port 8080.
Usage: {{- include "mlpatterns.serverProbes" . | nindent 10 }}
*/}}
{{- define "mlpatterns.serverProbes" -}}
startupProbe:
  httpGet:
    path: /v2/health/ready
    port: 8080
  periodSeconds: 5
  failureThreshold: {{ div .Values.server.startupSeconds 5 | max 1 }}
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
  failureThreshold: 3
{{- end -}}

{{/*
mlpatterns.serverContainerSettings: what every model server container carries besides its name,
image and arguments: environment, credentials, resources, restricted security and /tmp.
.resources defaults to .root.Values.resources; .redisEnv names a variable to hold the Redis URL
of .Values.redis (the asynchronous pattern's MLPATTERNS_REDIS_URL).
Usage: {{- include "mlpatterns.serverContainerSettings" (dict "root" . "resources" .Values.resources) | nindent 10 }}
*/}}
{{- define "mlpatterns.serverContainerSettings" -}}
{{- $env := include "mlpatterns.serverEnv" .root | trim -}}
{{- with .redisEnv }}
{{- $env = printf "%s\n%s" (include "mlpatterns.redisUrlEnv" (dict "root" $.root "name" .)) $env | trim -}}
{{- end }}
{{- with $env }}
env:
  {{- . | nindent 2 }}
{{- end }}
{{- with include "mlpatterns.serverEnvFrom" .root }}
envFrom:
  {{- . | nindent 2 }}
{{- end }}
resources:
  {{- toYaml (default .root.Values.resources .resources) | nindent 2 }}
securityContext:
  {{- include "mlpatterns.containerSecurityContext" .root | nindent 2 }}
volumeMounts:
  {{- include "mlpatterns.tmpVolumeMount" .root | nindent 2 }}
{{- end -}}

{{/*
mlpatterns.tmpVolume / mlpatterns.tmpVolumeMount: the writable /tmp the read-only root needs
(downloads, the prediction-log spool, metrics of several workers). An emptyDir outlives a
container restart, so a crashed server's unsent events are still there for its successor.
Usage: volumes: {{- include "mlpatterns.tmpVolume" (dict "size" .Values.server.tmpSize) | nindent 8 }}
       volumeMounts: {{- include "mlpatterns.tmpVolumeMount" . | nindent 12 }}
*/}}
{{- define "mlpatterns.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .size }}
{{- end -}}

{{- define "mlpatterns.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}
