{{/*
Traffic between the variants of a chart (_variants.tpl): the routes a chart builds, rendered for
Istio (VirtualService and DestinationRules) or Gateway API (HTTPRoute). A chart gives its routes
as a list, first match first:

  - name: override-canary                  # a DNS label
    match:                                 # optional: no match is the default route
      headers: {x-mlpatterns-variant: {exact: canary}}   # exact, prefix or regex
      uriPrefix: /v1/                      # optional
    to: [{variant: canary, weight: 100}]   # weights sum to 100; {service: <name>} instead of a
                                           # variant: a Service of the release (an InferenceGraph's)
    mirror: {variant: shadow, percent: 25} # optional, fire and forget

Clients call the release's entry Service, <fullname> (port 80), whose VirtualService or HTTPRoute
splits, mirrors and matches; without a mesh it reaches the first variant.
*/}}

{{/*
mlpatterns.entryService: the Service clients call, selecting the default variant's predictor pods
(so it answers even where no mesh routes it) and named as the routes' host.
Usage: {{ include "mlpatterns.entryService" (dict "root" . "variant" "primary") }}
*/}}
{{- define "mlpatterns.entryService" -}}
{{- $root := .root -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "mlpatterns.fullname" $root }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
spec:
  selector:
    serving.kserve.io/inferenceservice: {{ include "mlpatterns.variantName" (dict "root" $root "name" .variant) }}
    component: predictor
  ports:
    - name: http
      port: 80
      targetPort: 8080
      protocol: TCP
{{- end -}}

{{/*
mlpatterns.routing: the routes for .Values.trafficRouter: istio (a VirtualService on the entry
Service's host and .Values.istio.hosts, bound to .Values.istio.gateways, and a DestinationRule per
variant) or gateway-api (an HTTPRoute on .Values.gatewayApi.parentRefs, by default the entry
Service itself, as Gateway API's mesh support routes east-west traffic). .variants lists every
variant the routes may name.
Usage: {{ include "mlpatterns.routing" (dict "root" . "routes" $routes "variants" $names) }}
*/}}
{{- define "mlpatterns.routing" -}}
{{- $root := .root -}}
{{- range $route := .routes }}
{{- $total := 0 }}
{{- range .to }}
{{- if and (not .service) (not (has .variant $.variants)) }}
{{- fail (printf "route %s goes to %q, which is not a variant here (the variants: %s)" $route.name .variant (join ", " $.variants)) }}
{{- end }}
{{- $total = add $total .weight }}
{{- end }}
{{- if ne (int $total) 100 }}
{{- fail (printf "route %s: the weights sum to %d, not 100" $route.name (int $total)) }}
{{- end }}
{{- with .mirror }}
{{- if not (has .variant $.variants) }}
{{- fail (printf "route %s mirrors to %q, which is not a variant here" $route.name .variant) }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq $root.Values.trafficRouter "istio" }}
{{- include "mlpatterns.virtualService" . }}
{{- range .variants }}
---
{{ include "mlpatterns.destinationRule" (dict "root" $root "variant" .) }}
{{- end }}
{{- else if eq $root.Values.trafficRouter "gateway-api" }}
{{- include "mlpatterns.httpRoute" . }}
{{- end }}
{{- end -}}

{{/*
mlpatterns.virtualService: Istio's routes: first match wins; a mirrored copy is sent after the
answer is on its way and its answer is dropped (Envoy's shadowing), with the same x-request-id.
*/}}
{{- define "mlpatterns.virtualService" -}}
{{- $root := .root -}}
{{- $route := $root.Values.route -}}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {{ include "mlpatterns.fullname" $root }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
spec:
  hosts:
    - {{ include "mlpatterns.fullname" $root }}.{{ $root.Release.Namespace }}.svc.cluster.local
    {{- range $root.Values.istio.hosts }}
    - {{ . }}
    {{- end }}
  gateways:
    {{- toYaml $root.Values.istio.gateways | nindent 4 }}
  http:
    {{- range .routes }}
    - name: {{ .name }}
      {{- with .match }}
      match:
        - {{- with .headers }}
          headers:
            {{- range $name, $value := . }}
            {{ $name }}:
              {{- toYaml $value | nindent 14 }}
            {{- end }}
          {{- end }}
          {{- with .uriPrefix }}
          uri:
            prefix: {{ . }}
          {{- end }}
      {{- end }}
      route:
        {{- range .to }}
        - destination:
            host: {{ if .service }}{{ .service }}.{{ $root.Release.Namespace }}.svc.cluster.local{{ else }}{{ include "mlpatterns.variantHost" (dict "root" $root "name" .variant) }}{{ end }}
            port:
              number: 80
          weight: {{ .weight }}
        {{- end }}
      {{- with .mirror }}
      mirror:
        host: {{ include "mlpatterns.variantHost" (dict "root" $root "name" .variant) }}
        port:
          number: 80
      mirrorPercentage:
        value: {{ .percent }}
      {{- end }}
      timeout: {{ $route.timeoutSeconds }}s
      {{- with $route.retries }}
      retries:
        attempts: {{ .attempts }}
        {{- if .attempts }}
        perTryTimeout: {{ .perTryTimeoutSeconds }}s
        retryOn: {{ .retryOn }}
        {{- end }}
      {{- end }}
    {{- end }}
{{- end -}}

{{/*
mlpatterns.destinationRule: the traffic policy towards one variant's predictor
(.Values.istio.trafficPolicy; mutual TLS in the mesh).
*/}}
{{- define "mlpatterns.destinationRule" -}}
{{- $root := .root -}}
{{- $policy := deepCopy $root.Values.istio.trafficPolicy -}}
{{- if $root.Values.mesh.enabled }}
{{- $_ := set $policy "tls" (dict "mode" "ISTIO_MUTUAL") }}
{{- end }}
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: {{ include "mlpatterns.variantName" (dict "root" $root "name" .variant) }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
spec:
  host: {{ include "mlpatterns.variantHost" (dict "root" $root "name" .variant) }}
  {{- with $policy }}
  trafficPolicy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
mlpatterns.httpRoute: Gateway API's routes. Gateway API orders rules by how specific their match
is (longest path, then most headers), not by their place in the list; a prefix header match is
written as a regular expression, which Gateway API has and prefixes it has not.
*/}}
{{- define "mlpatterns.httpRoute" -}}
{{- $root := .root -}}
{{- $route := $root.Values.route -}}
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: {{ include "mlpatterns.fullname" $root }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
spec:
  parentRefs:
    {{- with $root.Values.gatewayApi.parentRefs }}
    {{- toYaml . | nindent 4 }}
    {{- else }}
    - group: ""
      kind: Service
      name: {{ include "mlpatterns.fullname" $root }}
      port: 80
    {{- end }}
  {{- with $root.Values.gatewayApi.hostnames }}
  hostnames:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    {{- range .routes }}
    - name: {{ .name }}
      {{- with .match }}
      matches:
        - {{- with .headers }}
          headers:
            {{- range $name, $value := . }}
            {{- if hasKey $value "exact" }}
            - type: Exact
              name: {{ $name }}
              value: {{ $value.exact | quote }}
            {{- else }}
            - type: RegularExpression
              name: {{ $name }}
              value: {{ (hasKey $value "regex" | ternary $value.regex (printf "^%s.*" (regexQuoteMeta (toString $value.prefix)))) | quote }}
            {{- end }}
            {{- end }}
          {{- end }}
          {{- with .uriPrefix }}
          path:
            type: PathPrefix
            value: {{ . }}
          {{- end }}
      {{- end }}
      backendRefs:
        {{- range .to }}
        - name: {{ .service | default (include "mlpatterns.variantService" (dict "root" $root "name" .variant)) }}
          port: 80
          weight: {{ .weight }}
        {{- end }}
      {{- with .mirror }}
      filters:
        - type: RequestMirror
          requestMirror:
            backendRef:
              name: {{ include "mlpatterns.variantService" (dict "root" $root "name" .variant) }}
              port: 80
            percent: {{ .percent }}
      {{- end }}
      timeouts:
        request: {{ $route.timeoutSeconds }}s
    {{- end }}
{{- end -}}
