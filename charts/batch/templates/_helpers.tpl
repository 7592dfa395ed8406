{{/*
batch.container: the batch predictor's container. Its run id is the Job's name (one per scheduled
run, the same across retries of that run, so a retried shard replaces its own output); an Indexed
Job gives each pod its shard in JOB_COMPLETION_INDEX. With .test (the helm test), it predicts the
first test.rows rows of shard 0 into the pod's /tmp instead.
Usage: {{ include "batch.container" (dict "root" . "test" false) }}
*/}}
{{- define "batch.container" -}}
{{- $test := .test -}}
{{- with .root -}}
- name: batch
  image: {{ include "mlpatterns.image" (dict "image" .Values.image "root" .) }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - batch
    - --model_uri={{ include "mlpatterns.modelUri" (dict "root" . "uri" .Values.model.uri "value" "model.uri") }}
    - --model_name={{ .Values.model.name }}
    {{- with .Values.model.version }}
    - --model_version={{ . }}
    {{- end }}
    - --input={{ .Values.input.uri }}
    {{- with .Values.input.table }}
    - --input_table={{ . }}
    {{- end }}
    {{- with .Values.input.shardKey }}
    - --shard_key={{ . }}
    {{- end }}
    {{- if $test }}
    - --output=/tmp/helm-test
    - --run_id=helm-test
    - --max_rows={{ int64 .Values.test.rows }}
    - --shard_index=0
    {{- else }}
    - --output={{ .Values.output.uri }}
    {{- with .Values.output.table }}
    - --output_table={{ . }}
    {{- end }}
    {{- end }}
    {{- with .Values.prediction }}
    {{- with .featureColumns }}
    - --feature_columns={{ . | toJson }}
    {{- end }}
    {{- with .keyColumns }}
    - --key_columns={{ . | toJson }}
    {{- end }}
    - --chunk_rows={{ int64 .chunkRows }}
    - --max_reject_fraction={{ .maxRejectFraction }}
    {{- end }}
    - --shard_count={{ .Values.shards.count }}
  env:
    {{- if not $test }}
    - name: MLPATTERNS_RUN_ID
      valueFrom:
        fieldRef:
          fieldPath: metadata.labels['batch.kubernetes.io/job-name']
    {{- end }}
    - name: MLPATTERNS_DOWNLOAD_DIR
      value: /tmp/models
    {{- with .Values.model.trackingUri }}
    - name: MLFLOW_TRACKING_URI
      value: {{ . | quote }}
    {{- end }}
  {{- with .Values.credentialsSecret }}
  envFrom:
    - secretRef:
        name: {{ . }}
  {{- end }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    {{- include "mlpatterns.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    {{- include "mlpatterns.tmpVolumeMount" . | nindent 4 }}
{{- end }}
{{- end -}}
