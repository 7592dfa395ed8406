{{/*
mlpatterns.networkPolicy: only the server's HTTP port is open to the pods it selects, from
.Values.networkPolicy.from (every source when empty); egress stays open (storage, MLflow, sinks).
Without .port nothing may connect at all (pods that serve nothing, such as training jobs).
Usage: {{ include "mlpatterns.networkPolicy" (dict "root" . "selector" $labelsYaml "port" 8080) }}
*/}}
{{- define "mlpatterns.networkPolicy" -}}
{{- if .root.Values.networkPolicy.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "mlpatterns.fullname" .root }}
  namespace: {{ include "mlpatterns.namespace" .root }}
  labels:
    {{- include "mlpatterns.labels" .root | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- .selector | nindent 6 }}
  policyTypes:
    - Ingress
  {{- if .port }}
  ingress:
    - ports:
        - port: {{ .port }}
          protocol: TCP
      {{- with .root.Values.networkPolicy.from }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  {{- else }}
  ingress: []
  {{- end }}
{{- end }}
{{- end -}}
