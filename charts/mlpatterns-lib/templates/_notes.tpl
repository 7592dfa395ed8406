{{/*
mlpatterns.imageNotice: the first lines of NOTES.txt while the release runs the kit's default
image, which is not published anywhere: how to build and push one's own and point the release
at it. .build adds what `make images` needs besides REGISTRY and TAG (model-in-image: MODEL_PATH).
Usage: {{ include "mlpatterns.imageNotice" (dict "root" .) }}
*/}}
{{- define "mlpatterns.imageNotice" -}}
{{- $root := .root -}}
{{- with $root.Values.image.repository -}}
{{- if hasPrefix "ghcr.io/mlpatterns/" . -}}
NOTE: the image {{ . }} is not published anywhere, so the pods cannot pull it. Build it and push
it to your registry (on a machine with Docker, from the repository), then point the release at it:
  make images REGISTRY=<your registry> TAG={{ $root.Chart.AppVersion }}{{ with $.build }} {{ . }}{{ end }}
  make push-images REGISTRY=<your registry> TAG={{ $root.Chart.AppVersion }}
  helm upgrade {{ $root.Release.Name }} charts/{{ $root.Chart.Name }} -n {{ $root.Release.Namespace }} --reuse-values \
    --set image.repository=<your registry>/{{ base . }} --set image.tag={{ $root.Chart.AppVersion }}
Details: charts/{{ $root.Chart.Name }}/README.md, "Install, in order".

{{ end -}}
{{- end -}}
{{- end -}}
