{{/*
mlpatterns.pdb: a PodDisruptionBudget keeping all but one pod up during voluntary disruptions,
rendered only when more than one replica runs (a PDB over one pod would block node drains).
.suffix tells apart the budgets of several components (e.g. "-transformer").
Usage: {{ include "mlpatterns.pdb" (dict "root" . "replicas" $minReplicas "selector" $selectorYaml) }}
*/}}
{{- define "mlpatterns.pdb" -}}
{{- if gt (int .replicas) 1 }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ if .suffix }}{{ include "mlpatterns.componentName" (dict "root" .root "component" (trimPrefix "-" .suffix)) }}{{ else }}{{ include "mlpatterns.fullname" .root }}{{ end }}
  namespace: {{ include "mlpatterns.namespace" .root }}
  labels:
    {{- include "mlpatterns.labels" .root | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- .selector | nindent 6 }}
{{- end }}
{{- end -}}
