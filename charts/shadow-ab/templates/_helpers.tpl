{{/*
shadow-ab.routes: one route, every request to the primary, mirror.percent of them copied to the
shadow (the refusal of a shadow that is the primary itself comes first).
*/}}
{{- define "shadow-ab.routes" -}}
{{- $primary := .Values.primary.model -}}
{{- $shadow := .Values.shadow.model -}}
{{- if and (eq $primary.uri $shadow.uri) (eq (toString $primary.version) (toString $shadow.version)) -}}
{{- fail (printf "shadow.model is the primary itself (uri %s, version %q): mirroring to it compares the model with itself; give the shadow another uri or version" $shadow.uri (toString $shadow.version)) -}}
{{- end -}}
- name: primary
  to:
    - variant: primary
      weight: 100
  {{- if gt (int .Values.mirror.percent) 0 }}
  mirror:
    variant: shadow
    percent: {{ .Values.mirror.percent }}
  {{- end }}
{{- end -}}

{{/*
shadow-ab.compareName: the comparison's Deployment and Service.
*/}}
{{- define "shadow-ab.compareName" -}}
{{- include "mlpatterns.componentName" (dict "root" . "component" "compare") -}}
{{- end -}}

{{/*
shadow-ab.compareSelector: the comparison's pod labels.
*/}}
{{- define "shadow-ab.compareSelector" -}}
{{ include "mlpatterns.selectorLabels" . }}
app.kubernetes.io/component: compare
{{- end -}}
