{{/*
mlpatterns.testHook: a `helm test` pod that runs a Python check in the chart's image (Python, no
extra tools) under the same restricted security context, with .env (a YAML list of env entries),
and a NetworkPolicy that admits nothing to it.
Usage: {{ include "mlpatterns.testHook" (dict "root" . "name" "predict" "script" $python "env" $envYaml) }}
*/}}
{{- define "mlpatterns.testHook" -}}
{{- $mesh := false -}}
{{- with .root.Values.mesh }}{{ $mesh = .enabled }}{{ end -}}
apiVersion: v1
kind: Pod
metadata:
  name: {{ include "mlpatterns.fullname" .root | trunc 52 | trimSuffix "-" }}-test
  namespace: {{ include "mlpatterns.namespace" .root }}
  labels:
    {{- include "mlpatterns.labels" .root | nindent 4 }}
    mlpatterns.dev/test: {{ .root.Release.Name }}
    {{- if $mesh }}
    sidecar.istio.io/inject: "true"
    {{- end }}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
    {{- include "mlpatterns.checkovSkips" (dict "root" .root) | nindent 4 }}
    checkov.io/skip4: CKV_K8S_8=a one-shot test pod that exits after one request has nothing to probe for liveness
    checkov.io/skip5: CKV_K8S_9=a one-shot test pod that exits after one request has nothing to probe for readiness
    {{- if $mesh }}
    # The check calls the model over mutual TLS, so it waits for its sidecar, and ends it when done.
    proxy.istio.io/config: '{"holdApplicationUntilProxyStarts": true}'
    {{- end }}
spec:
  restartPolicy: Never
  # The release's identity: in the mesh, the model's AuthorizationPolicy admits it.
  serviceAccountName: {{ include "mlpatterns.serviceAccountName" .root }}
  automountServiceAccountToken: false
  securityContext:
    {{- include "mlpatterns.podSecurityContext" .root | nindent 4 }}
  containers:
    - name: {{ .name }}
      image: {{ include "mlpatterns.image" (dict "image" .root.Values.image "root" .root) }}
      imagePullPolicy: {{ .root.Values.image.pullPolicy }}
      command: ["python", "-c"]
      args:
        - |
          {{- if $mesh }}
          import atexit, urllib.request
          atexit.register(lambda: urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:15020/quitquitquit", method="POST"), timeout=5))
          {{- end }}
          {{- .script | nindent 10 }}
      env:
        {{- .env | nindent 8 }}
      securityContext:
        {{- include "mlpatterns.containerSecurityContext" .root | nindent 8 }}
      resources:
        requests:
          cpu: 50m
          memory: 64Mi
        limits:
          cpu: 200m
          memory: 128Mi
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "mlpatterns.fullname" .root | trunc 52 | trimSuffix "-" }}-test
  namespace: {{ include "mlpatterns.namespace" .root }}
  labels:
    {{- include "mlpatterns.labels" .root | nindent 4 }}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-weight: "-1"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  podSelector:
    matchLabels:
      mlpatterns.dev/test: {{ .root.Release.Name }}
  policyTypes:
    - Ingress
{{- end -}}

{{/*
mlpatterns.testPod: the serving charts' `helm test` hook. It sends .Values.test.instances to the
release's v1 endpoint at .url, with a fresh x-request-id, and checks the answer: HTTP 200, one
prediction per instance, and when .Values.test.expected is set, exactly those predictions.
Optional: .protocol, the body's (v1 by default, seldon: a SeldonMessage, or v2), .headers (a dict;
"{request_id}" in a value is that id) on the request, .then (Python
run after the check, with `request_id` and `predictions` at hand) and .env (more entries).
Usage: {{ include "mlpatterns.testPod" (dict "root" . "url" $predictUrl) }}
*/}}
{{- define "mlpatterns.testPod" -}}
{{- $script := `import json, os, urllib.request, uuid
instances = json.loads(os.environ["INSTANCES"])
request_id = "helm-test-" + uuid.uuid4().hex
headers = {name: value.format(request_id=request_id) for name, value in json.loads(os.environ["HEADERS"]).items()}
protocol = os.environ.get("PROTOCOL", "v1")
if protocol == "seldon":
    body = {"data": {"ndarray": instances}}
elif protocol == "v2":
    flat = sum(instances, [])
    body = {"inputs": [{"name": "input-0", "shape": [len(instances), len(instances[0])], "datatype": "FP64", "data": flat}]}
else:
    body = {"instances": instances}
request = urllib.request.Request(
    os.environ["URL"], json.dumps(body).encode(),
    {"content-type": "application/json", "x-request-id": request_id, **headers},
)
with urllib.request.urlopen(request, timeout=60) as answer:
    assert answer.status == 200, answer.status
    document = json.load(answer)
if protocol == "seldon":
    predictions = document["data"]["ndarray"]
elif protocol == "v2":
    predictions = document["outputs"][0]["data"]
else:
    predictions = document["predictions"]
assert len(predictions) == len(instances), predictions
expected = json.loads(os.environ["EXPECTED"])
assert expected is None or predictions == expected, (predictions, expected)
print("prediction ok:", predictions, "request", request_id)` -}}
{{- with .then }}
{{- $script = printf "%s\n%s" $script . -}}
{{- end }}
{{- $env := list (dict "name" "URL" "value" .url) (dict "name" "INSTANCES" "value" (.root.Values.test.instances | toJson)) (dict "name" "EXPECTED" "value" (.root.Values.test.expected | toJson)) (dict "name" "HEADERS" "value" (default dict .headers | toJson)) (dict "name" "PROTOCOL" "value" (default "v1" .protocol)) -}}
{{- $env = concat $env (default list .env) -}}
{{- include "mlpatterns.testHook" (dict "root" .root "name" "predict" "script" $script "env" (toYaml $env)) }}
{{- end -}}

{{/*
mlpatterns.graphTestPod: the graph charts' `helm test`: one prediction through the whole graph,
at the InferenceGraph's router (backend kserve) or at Seldon's endpoint of the release's
SeldonDeployment or Pipeline (.node: the graph's first node, on a v2 path).
Usage: {{ include "mlpatterns.graphTestPod" (dict "root" . "node" $first) }}
*/}}
{{- define "mlpatterns.graphTestPod" -}}
{{- $root := .root -}}
{{- $endpoint := dict "url" (printf "http://%s.%s.svc/v1/models/%s:predict" (include "mlpatterns.fullname" $root) $root.Release.Namespace $root.Values.model.name) "protocol" "v1" "headers" dict -}}
{{- if ne $root.Values.backend "kserve" -}}
{{- $endpoint = include "mlpatterns.seldonEndpoint" (dict "root" $root "predictor" "default" "node" .node "resource" "pipeline") | fromYaml -}}
{{- end -}}
{{- include "mlpatterns.testPod" (dict "root" $root "url" ($root.Values.test.url | default $endpoint.url) "protocol" $endpoint.protocol "headers" $endpoint.headers) }}
{{- end -}}
