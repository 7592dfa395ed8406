{{/*
mlpatterns.networkPolicy: only the server's ports are open to the pods it selects; egress stays
open (storage, MLflow, sinks). The prediction port admits .Values.networkPolicy.from, or, when
that is empty and the mesh is on, the namespaces of the identities the AuthorizationPolicy admits
(so the two agree), or else every source. A /metrics port of its own admits the namespace of
mesh.prometheus when the mesh is on, else the same sources as predictions.
Without .port nothing may connect at all (pods that serve nothing, such as training jobs).
.suffix tells apart the policies of several components (e.g. "-worker").
Usage: {{ include "mlpatterns.networkPolicy" (dict "root" . "selector" $labelsYaml "port" 8080) }}
*/}}
{{- define "mlpatterns.networkPolicy" -}}
{{- $root := .root -}}
{{- if $root.Values.networkPolicy.enabled }}
{{- $mesh := false -}}
{{- with $root.Values.mesh }}{{ $mesh = .enabled }}{{ end -}}
{{- $metricsPort := 0 -}}
{{- with $root.Values.monitoring }}{{ $metricsPort = .port }}{{ end -}}
{{- $from := $root.Values.networkPolicy.from -}}
{{- if and $mesh (not $from) }}
{{- $from = include "mlpatterns.namespacePeers" (include "mlpatterns.meshPrincipals" $root | fromYamlArray) | fromYamlArray -}}
{{- end }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ if .suffix }}{{ include "mlpatterns.componentName" (dict "root" $root "component" (trimPrefix "-" .suffix)) }}{{ else }}{{ include "mlpatterns.fullname" $root }}{{ end }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
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
      {{- with $from }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- with $metricsPort }}
    - ports:
        - port: {{ . }}
          protocol: TCP
      {{- $scrapers := $from }}
      {{- if $mesh }}
      {{- $scrapers = include "mlpatterns.namespacePeers" (list $root.Values.mesh.prometheus) | fromYamlArray }}
      {{- end }}
      {{- with $scrapers }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
  {{- else }}
  ingress: []
  {{- end }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.namespacePeers: NetworkPolicy peers for the namespaces of a list of mesh principals.
Usage: {{ include "mlpatterns.namespacePeers" $principals | fromYamlArray }}
*/}}
{{- define "mlpatterns.namespacePeers" -}}
{{- range include "mlpatterns.principalNamespaces" . | fromYamlArray }}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ . }}
{{- end }}
{{- end -}}
