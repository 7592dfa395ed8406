{{/*
Restricted Pod Security: non-root (a high UID, 10001, clear of host users), no privilege escalation, no capabilities, a read-only root
filesystem and the runtime's default seccomp profile. The server writes only to /tmp (an emptyDir).
*/}}

{{/*
mlpatterns.podSecurityContext
Usage: securityContext: {{- include "mlpatterns.podSecurityContext" . | nindent 8 }}
*/}}
{{- define "mlpatterns.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
mlpatterns.containerSecurityContext
Usage: securityContext: {{- include "mlpatterns.containerSecurityContext" . | nindent 12 }}
*/}}
{{- define "mlpatterns.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
mlpatterns.checkovSkips: the checkov checks a workload skips, each with its reason, as
annotations on the object that runs it. Pinning image.digest removes the digest skip; .envSecrets
says the workload takes credentials from Secrets as environment variables.
Usage: annotations: {{- include "mlpatterns.checkovSkips" (dict "root" . "envSecrets" (not (empty .Values.credentialsSecret))) | nindent 4 }}
*/}}
{{- define "mlpatterns.checkovSkips" -}}
checkov.io/skip1: CKV_K8S_15=IfNotPresent suits immutable tags and digests; set image.pullPolicy Always if you reuse tags
{{- if not .root.Values.image.digest }}
checkov.io/skip2: CKV_K8S_43=the image is referenced by its release tag; set image.digest to pin it
{{- end }}
{{- if .envSecrets }}
checkov.io/skip3: CKV_K8S_35=the MLflow and AWS clients read credentials from the environment; only this container gets the Secrets
{{- end }}
{{- end -}}

