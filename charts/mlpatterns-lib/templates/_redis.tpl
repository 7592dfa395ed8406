{{/*
Redis for the patterns with state (prediction cache, asynchronous queue, prediction log). A
release either runs its own (.Values.redis.create: a Deployment and a Service, restricted like
every other pod, reachable only from .clients) or is given one: .Values.redis.url, or, when the
URL holds a password, .Values.redis.existingSecret (the URL under .Values.redis.secretKey).
*/}}

{{/*
mlpatterns.redisName: the name of the release's own Redis Deployment and Service.
Usage: {{ include "mlpatterns.redisName" . }}
*/}}
{{- define "mlpatterns.redisName" -}}
{{- include "mlpatterns.componentName" (dict "root" . "component" "redis") -}}
{{- end -}}

{{/*
mlpatterns.redisUrlEnv: a container env entry named .name holding the Redis URL; fails unless
exactly one of redis.create, redis.url and redis.existingSecret says where Redis is.
Usage: {{- include "mlpatterns.redisUrlEnv" (dict "root" . "name" "MLPATTERNS_CACHE_REDIS_URL") | nindent 12 }}
*/}}
{{- define "mlpatterns.redisUrlEnv" -}}
{{- $redis := .root.Values.redis -}}
{{- $given := 0 -}}
{{- range list $redis.create $redis.url $redis.existingSecret }}{{ if . }}{{ $given = add1 $given }}{{ end }}{{ end -}}
{{- if ne (int $given) 1 -}}
{{- fail (printf "say where Redis is with exactly one of redis.create=true, redis.url or redis.existingSecret (%d given)" (int $given)) -}}
{{- end -}}
- name: {{ .name }}
{{- if $redis.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ $redis.existingSecret }}
      key: {{ $redis.secretKey }}
{{- else if $redis.url }}
  value: {{ $redis.url | quote }}
{{- else }}
  value: {{ printf "redis://%s.%s.svc:6379/0" (include "mlpatterns.redisName" .root) (include "mlpatterns.namespace" .root) | quote }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.redis: the release's own Redis when .Values.redis.create: a Deployment (one replica,
restricted security, data in an emptyDir or, with .Values.redis.persistence.enabled, a
PersistentVolumeClaim), its Service, and a NetworkPolicy that admits only the pods .clients
selects. .args are redis-server's arguments (an LRU cache, or an append-only queue).
Usage: {{ include "mlpatterns.redis" (dict "root" . "args" (list "--maxmemory" "256mb") "clients" $selectorYaml) }}
*/}}
{{- define "mlpatterns.redis" -}}
{{- $root := .root -}}
{{- $redis := $root.Values.redis -}}
{{- if $redis.create }}
{{- $name := include "mlpatterns.redisName" $root }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
    app.kubernetes.io/component: redis
  annotations:
    checkov.io/skip1: CKV_K8S_15=IfNotPresent suits immutable tags and digests; set redis.image.pullPolicy Always if you reuse tags
    {{- if not $redis.image.digest }}
    checkov.io/skip2: CKV_K8S_43=the image is referenced by its release tag; set redis.image.digest to pin it
    {{- end }}
spec:
  replicas: 1
  # One writer: a second pod must not start on the same data before the first has stopped.
  strategy:
    type: Recreate
  selector:
    matchLabels:
      {{- include "mlpatterns.redisSelector" $root | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "mlpatterns.redisSelector" $root | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      # The official image runs as any user when not started as root (the data dir is the emptyDir).
      securityContext:
        {{- include "mlpatterns.podSecurityContext" $root | nindent 8 }}
      {{- include "mlpatterns.placement" $root | nindent 6 }}
      containers:
        - name: redis
          image: {{ include "mlpatterns.image" (dict "image" $redis.image "root" $root) }}
          imagePullPolicy: {{ $redis.image.pullPolicy }}
          args:
            - --port
            - "6379"
            # The NetworkPolicy below decides who connects; the password, if any, is yours to add.
            - --protected-mode
            - "no"
            {{- range .args }}
            - {{ . | quote }}
            {{- end }}
          ports:
            - name: redis
              containerPort: 6379
              protocol: TCP
          readinessProbe:
            exec:
              command: ["redis-cli", "ping"]
            periodSeconds: 5
          livenessProbe:
            tcpSocket:
              port: redis
            periodSeconds: 10
          resources:
            {{- toYaml $redis.resources | nindent 12 }}
          securityContext:
            {{- include "mlpatterns.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: /data
      volumes:
        - name: data
          {{- if $redis.persistence.enabled }}
          persistentVolumeClaim:
            claimName: {{ $name }}
          {{- else }}
          emptyDir:
            sizeLimit: {{ $redis.persistence.size }}
          {{- end }}
{{- if $redis.persistence.enabled }}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ $name }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
    app.kubernetes.io/component: redis
spec:
  accessModes:
    - ReadWriteOnce
  {{- with $redis.persistence.storageClass }}
  storageClassName: {{ . }}
  {{- end }}
  resources:
    requests:
      storage: {{ $redis.persistence.size }}
{{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
    app.kubernetes.io/component: redis
spec:
  selector:
    {{- include "mlpatterns.redisSelector" $root | nindent 4 }}
  ports:
    - name: redis
      port: 6379
      targetPort: redis
      protocol: TCP
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $name }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
    app.kubernetes.io/component: redis
spec:
  podSelector:
    matchLabels:
      {{- include "mlpatterns.redisSelector" $root | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    - ports:
        - port: 6379
          protocol: TCP
      from:
        {{- range .clients }}
        - podSelector:
            matchLabels:
              {{- . | nindent 14 }}
        {{- end }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.redisSelector: the labels of the release's Redis pod (its own name, so no other
selector of the release matches it).
Usage: {{ include "mlpatterns.redisSelector" . }}
*/}}
{{- define "mlpatterns.redisSelector" -}}
app.kubernetes.io/name: redis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end -}}
