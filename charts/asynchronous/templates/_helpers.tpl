{{/*
asynchronous.selector: the selector labels of one component (api or worker): the release's, and
the component, so the two Deployments never select each other's pods.
Usage: {{ include "asynchronous.selector" (dict "root" . "component" "api") }}
*/}}
{{- define "asynchronous.selector" -}}
{{ include "mlpatterns.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
asynchronous.args: the arguments the API and the workers share: the model, the queue, the role.
Usage: {{- include "asynchronous.args" . | nindent 12 }}
*/}}
{{- define "asynchronous.args" -}}
- --model_uri={{ include "mlpatterns.modelUri" (dict "root" . "uri" .Values.model.uri "value" "model.uri") }}
- --model_name={{ .Values.model.name }}
{{- with .Values.model.version }}
- --model_version={{ . }}
{{- end }}
- --role={{ .Values.server.role }}
- --http_port=8080
- --result_ttl_seconds={{ int64 .Values.jobs.resultTtlSeconds }}
{{- end -}}

{{/*
asynchronous.pod: the pod template of one component running the model server image with .args.
Usage: {{- include "asynchronous.pod" (dict "root" . "component" "worker" "args" $args "resources" .Values.worker.resources "probe" "/metrics") | nindent 2 }}
*/}}
{{- define "asynchronous.pod" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  {{- with $root.Values.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "mlpatterns.serviceAccountName" $root }}
  automountServiceAccountToken: false
  securityContext:
    {{- include "mlpatterns.podSecurityContext" $root | nindent 4 }}
  containers:
    - name: {{ .component }}
      image: {{ include "mlpatterns.image" (dict "image" $root.Values.image "root" $root) }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        {{- .args | nindent 8 }}
      ports:
        - name: http
          containerPort: 8080
          protocol: TCP
      startupProbe:
        httpGet:
          path: {{ .probe }}
          port: http
        periodSeconds: 5
        failureThreshold: {{ div $root.Values.server.startupSeconds 5 | max 1 }}
      readinessProbe:
        httpGet:
          path: {{ .probe }}
          port: http
        periodSeconds: 5
      livenessProbe:
        httpGet:
          path: {{ .live }}
          port: http
        periodSeconds: 10
      {{- include "mlpatterns.serverContainerSettings" (dict "root" $root "resources" .resources "redisEnv" "MLPATTERNS_REDIS_URL") | nindent 6 }}
  volumes:
    {{- include "mlpatterns.tmpVolume" (dict "size" $root.Values.server.tmpSize) | nindent 4 }}
  {{- include "mlpatterns.placement" $root | nindent 2 }}
{{- end -}}
