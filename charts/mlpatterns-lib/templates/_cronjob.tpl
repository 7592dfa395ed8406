{{/*
mlpatterns.cronJob: a CronJob that never runs twice at once (concurrencyPolicy Forbid: a run that
overlaps the next slot wins, the next is skipped), with its history, retries and deadlines from
.Values.job and the schedule from .Values.schedule, .timeZone and .suspend; its pod restricted
like every other, running .container (a YAML list item). .jobSpec adds fields to the Job's spec
(an Indexed Job's completions); .envSecrets says the container reads Secrets as environment.
Usage: {{ include "mlpatterns.cronJob" (dict "root" . "container" $containerYaml "tmpSize" .Values.tmpSize) }}
*/}}
{{- define "mlpatterns.cronJob" -}}
{{- $root := .root -}}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "mlpatterns.fullname" $root }}
  namespace: {{ include "mlpatterns.namespace" $root }}
  labels:
    {{- include "mlpatterns.labels" $root | nindent 4 }}
  annotations:
    {{- include "mlpatterns.checkovSkips" (dict "root" $root "envSecrets" .envSecrets) | nindent 4 }}
spec:
  schedule: {{ $root.Values.schedule | quote }}
  {{- with $root.Values.timeZone }}
  timeZone: {{ . | quote }}
  {{- end }}
  suspend: {{ $root.Values.suspend }}
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: {{ $root.Values.job.startingDeadlineSeconds }}
  successfulJobsHistoryLimit: {{ $root.Values.job.successfulJobsHistoryLimit }}
  failedJobsHistoryLimit: {{ $root.Values.job.failedJobsHistoryLimit }}
  jobTemplate:
    metadata:
      labels:
        {{- include "mlpatterns.labels" $root | nindent 8 }}
    spec:
      backoffLimit: {{ $root.Values.job.backoffLimit }}
      activeDeadlineSeconds: {{ $root.Values.job.activeDeadlineSeconds }}
      ttlSecondsAfterFinished: {{ $root.Values.job.ttlSecondsAfterFinished }}
      {{- with .jobSpec }}
      {{- . | nindent 6 }}
      {{- end }}
      template:
        metadata:
          labels:
            {{- include "mlpatterns.labels" $root | nindent 12 }}
          {{- with $root.Values.podAnnotations }}
          annotations:
            {{- toYaml . | nindent 12 }}
          {{- end }}
        spec:
          restartPolicy: Never
          serviceAccountName: {{ include "mlpatterns.serviceAccountName" $root }}
          automountServiceAccountToken: false
          securityContext:
            {{- include "mlpatterns.podSecurityContext" $root | nindent 12 }}
          containers:
            {{- .container | nindent 12 }}
          volumes:
            {{- include "mlpatterns.tmpVolume" (dict "size" .tmpSize) | nindent 12 }}
          {{- include "mlpatterns.placement" $root | nindent 10 }}
{{- end -}}
