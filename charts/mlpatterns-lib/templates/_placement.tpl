{{/*
mlpatterns.placement: node selector, tolerations and affinity from values, for a pod spec.
Usage: {{- include "mlpatterns.placement" . | nindent 6 }}
*/}}
{{- define "mlpatterns.placement" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
