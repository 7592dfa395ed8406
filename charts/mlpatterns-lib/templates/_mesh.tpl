{{/*
Istio: who may call a model. With .Values.mesh.enabled, the namespace runs with STRICT mutual TLS
(manifests/istio) and an AuthorizationPolicy admits, on the prediction port, only the identities
below; Prometheus may read /metrics. The NetworkPolicy (_networkpolicy.tpl) admits the same
namespaces, so the two never disagree.
*/}}

{{/*
mlpatterns.meshPrincipals: the identities (SPIFFE: cluster.local/ns/<namespace>/sa/<account>)
allowed to call the model, as a YAML list: the ingress gateway, this release's own pods (a
transformer calling its predictor, the helm test), Knative's activator in Knative mode, and
.Values.mesh.callers.
Usage: {{ include "mlpatterns.meshPrincipals" . | fromYamlArray }}
*/}}
{{- define "mlpatterns.meshPrincipals" -}}
- {{ .Values.mesh.ingressGateway }}
- cluster.local/ns/{{ .Release.Namespace }}/sa/{{ include "mlpatterns.serviceAccountName" . }}
{{- if has (default "" .Values.deploymentMode) (list "Knative" "Serverless") }}
- cluster.local/ns/knative-serving/sa/controller
{{- end }}
{{- range .Values.mesh.callers }}
- {{ . }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.principalNamespaces: the namespaces of a list of principals, each once, as a YAML list.
Usage: {{ include "mlpatterns.principalNamespaces" $principals | fromYamlArray }}
*/}}
{{- define "mlpatterns.principalNamespaces" -}}
{{- $namespaces := list -}}
{{- range . }}
{{- $namespaces = append $namespaces (regexFind "/ns/[^/]+/" . | trimPrefix "/ns/" | trimSuffix "/") -}}
{{- end }}
{{- toYaml (uniq $namespaces) }}
{{- end -}}

{{/*
mlpatterns.meshPolicies: the model's AuthorizationPolicy and, when /metrics has a port of its own
(.Values.monitoring.port), a PeerAuthentication that leaves that one port to plain text, so a
Prometheus outside the mesh can scrape it (the NetworkPolicy still limits who reaches it).
Usage: {{ include "mlpatterns.meshPolicies" (dict "root" . "selector" $labelsYaml) }}
*/}}
{{- define "mlpatterns.meshPolicies" -}}
{{- $root := .root -}}
{{- with $root.Values.mesh }}
{{- if .enabled }}
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: {{ include "mlpatterns.fullname" $root }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- $.selector | nindent 6 }}
  action: ALLOW
  rules:
    - from:
        - source:
            principals:
              {{- include "mlpatterns.meshPrincipals" $root | nindent 14 }}
      to:
        - operation:
            ports: ["8080"]
    {{- with $root.Values.monitoring.port }}
    - to:
        - operation:
            ports: [{{ . | quote }}]
            methods: ["GET"]
            paths: ["/metrics"]
    {{- else }}
    - from:
        - source:
            principals: [{{ .prometheus | quote }}]
      to:
        - operation:
            ports: ["8080"]
            methods: ["GET"]
            paths: ["/metrics"]
    {{- end }}
{{- with $root.Values.monitoring.port }}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: {{ include "mlpatterns.fullname" $root | trunc 55 | trimSuffix "-" }}-metrics
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- $.selector | nindent 6 }}
  mtls:
    mode: STRICT
  portLevelMtls:
    {{ . | quote }}:
      mode: PERMISSIVE
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
