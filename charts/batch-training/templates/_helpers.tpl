{{/*
batchTraining.container: the training container of the CronJob's pod.
Usage: {{ include "batchTraining.container" . }}
*/}}
{{- define "batchTraining.container" -}}
{{- $envSecrets := or .Values.mlflow.credentialsSecret .Values.storage.credentialsSecret -}}
- name: train
  image: {{ include "mlpatterns.image" (dict "image" .Values.image "root" .) }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["mlpatterns-pipelines", "train"]
  args:
    {{- with .Values.training }}
    - --param=source={{ .source }}
    - --param=label={{ .label }}
    - --param=expectation={{ .expectation | toJson }}
    - --param=test_size={{ .testSize }}
    - --param=seed={{ .seed }}
    - --param=algorithm={{ .algorithm }}
    - --param=hyperparameters={{ .hyperparameters | toJson }}
    - --param=model_name={{ .modelName }}
    - --param=metric={{ .metric }}
    - --param=margin={{ .margin }}
    {{- end }}
    - --param=tracking_uri={{ .Values.mlflow.trackingUri }}
  {{- if $envSecrets }}
  envFrom:
    {{- with .Values.mlflow.credentialsSecret }}
    - secretRef:
        name: {{ . }}
    {{- end }}
    {{- with .Values.storage.credentialsSecret }}
    - secretRef:
        name: {{ . }}
    {{- end }}
  {{- end }}
  resources:
    {{- toYaml .Values.resources | nindent 16 }}
  securityContext:
    {{- include "mlpatterns.containerSecurityContext" . | nindent 16 }}
  volumeMounts:
    {{- include "mlpatterns.tmpVolumeMount" . | nindent 16 }}
{{- end -}}
