{{/*
mlpatterns.serviceAccountName: the ServiceAccount the pods run as.
Usage: serviceAccountName: {{ include "mlpatterns.serviceAccountName" . }}
*/}}
{{- define "mlpatterns.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mlpatterns.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
mlpatterns.serviceAccount: the ServiceAccount object, when .Values.serviceAccount.create. Its
annotations carry cloud identities (IRSA, Workload Identity) and KServe's S3 settings; its
secrets list names the credential Secrets KServe's storage initializer reads. A chart adds its
own with .annotations (a map) and .secrets (a list).
Usage: {{ include "mlpatterns.serviceAccount" (dict "root" . "annotations" $more "secrets" $names) }}
*/}}
{{- define "mlpatterns.serviceAccount" -}}
{{- $values := .root.Values.serviceAccount -}}
{{- if $values.create }}
{{- $annotations := merge (dict) (default (dict) .annotations) $values.annotations }}
{{- $secrets := concat (default (list) .secrets) (default (list) $values.secrets) | uniq }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "mlpatterns.serviceAccountName" .root }}
  namespace: {{ include "mlpatterns.namespace" .root }}
  labels:
    {{- include "mlpatterns.labels" .root | nindent 4 }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- with $secrets }}
secrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end -}}
