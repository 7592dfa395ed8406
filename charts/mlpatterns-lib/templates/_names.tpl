{{/*
Names, cut to the 63 characters Kubernetes allows in labels and DNS names.
*/}}

{{/*
mlpatterns.name: the chart name, or .Values.nameOverride.
Usage: {{ include "mlpatterns.name" . }}
*/}}
{{- define "mlpatterns.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
mlpatterns.fullname: <release>-<chart> (just <release> when it already contains the chart name),
or .Values.fullnameOverride.
Usage: {{ include "mlpatterns.fullname" . }}
*/}}
{{- define "mlpatterns.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mlpatterns.chart: <chart>-<version>, for the helm.sh/chart label.
Usage: {{ include "mlpatterns.chart" . }}
*/}}
{{- define "mlpatterns.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
mlpatterns.componentName: <fullname>-<component>, the full name cut first so the component's
suffix always survives the 63 characters.
Usage: {{ include "mlpatterns.componentName" (dict "root" . "component" "worker") }}
*/}}
{{- define "mlpatterns.componentName" -}}
{{- $suffix := printf "-%s" .component -}}
{{- $room := sub 63 (len $suffix) | int -}}
{{- printf "%s%s" (include "mlpatterns.fullname" .root | trunc $room | trimSuffix "-") $suffix -}}
{{- end -}}
