#!/usr/bin/env bash
# A local cluster for the kit (docs/cluster.md): kind, Istio, cert-manager, KServe in Standard mode,
# kube-prometheus-stack (Prometheus Operator, Prometheus, Grafana with its dashboard sidecar), the
# kit's ClusterServingRuntime, dashboards and alerts, our images, and one pattern: shadow-ab.
# Needs Docker, kind, kubectl and helm; it cannot run where the kit is built and tested (no Docker).
#
# Versions: the latest releases at or before the upstream commits of the CRDs the charts are
# validated against (../shared/crds/README.md); KServe's own kserve-deps.env at its commit names
# Istio, cert-manager, Gateway API and the kube-prometheus-stack chart it is tested with.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${CLUSTER:-mlpatterns}"
KSERVE_VERSION=v0.20.0                # CRDs: kserve/kserve @ aaac4e294dae (v0.20.0 + 104 commits)
ISTIO_VERSION=1.27.1                  # CRDs: istio/istio @ 86c9f01fd735 (the v1 APIs the charts use are in 1.27)
CERT_MANAGER_VERSION=v1.17.0          # KServe's webhooks
GATEWAY_API_VERSION=v1.5.1            # CRDs: kubernetes-sigs/gateway-api @ 4564255ac2c3 (standard channel)
KUBE_PROMETHEUS_STACK_VERSION=83.4.0  # CRDs: prometheus-operator/prometheus-operator @ 6adcebc5076c
REGISTRY=localhost/mlpatterns
TAG=0.1.0

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "kind-up: $tool is not installed" >&2; exit 1; }
done

step() { printf '\n== %s\n' "$*"; }

step "kind cluster $CLUSTER"
kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER"

step "Gateway API $GATEWAY_API_VERSION and cert-manager $CERT_MANAGER_VERSION"
kubectl apply --server-side -f "https://github.com/kubernetes-sigs/gateway-api/releases/download/$GATEWAY_API_VERSION/standard-install.yaml"
kubectl apply -f "https://github.com/cert-manager/cert-manager/releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml"
kubectl wait --for=condition=Available deployment --all -n cert-manager --timeout=300s

step "Istio $ISTIO_VERSION"
helm repo add istio https://istio-release.storage.googleapis.com/charts --force-update >/dev/null
helm upgrade --install istio-base istio/base -n istio-system --create-namespace --version "$ISTIO_VERSION" --wait
helm upgrade --install istiod istio/istiod -n istio-system --version "$ISTIO_VERSION" --wait
helm upgrade --install istio-ingressgateway istio/gateway -n istio-system --version "$ISTIO_VERSION"

step "kube-prometheus-stack $KUBE_PROMETHEUS_STACK_VERSION (Grafana loads ConfigMaps labelled grafana_dashboard from every namespace)"
helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update >/dev/null
helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack -n monitoring --create-namespace \
  --version "$KUBE_PROMETHEUS_STACK_VERSION" --wait \
  --set grafana.sidecar.dashboards.enabled=true \
  --set grafana.sidecar.dashboards.label=grafana_dashboard \
  --set grafana.sidecar.dashboards.searchNamespace=ALL \
  --set grafana.sidecar.dashboards.folderAnnotation=grafana_folder \
  --set grafana.sidecar.dashboards.provider.foldersFromFilesStructure=true \
  --set prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false

step "KServe $KSERVE_VERSION, Standard mode"
helm upgrade --install kserve-crd oci://ghcr.io/kserve/charts/kserve-crd --version "$KSERVE_VERSION" -n kserve --create-namespace --wait
helm upgrade --install kserve-resources oci://ghcr.io/kserve/charts/kserve-resources --version "$KSERVE_VERSION" -n kserve \
  --set kserve.controller.deploymentMode=Standard --wait

step "the kit's images, built here and loaded into the cluster"
make images REGISTRY="$REGISTRY" TAG="$TAG"
kind load docker-image --name "$CLUSTER" "$REGISTRY/model-server:$TAG" "$REGISTRY/training-python:$TAG"

step "the kit: ClusterServingRuntime, dashboards, alerts"
(cd manifests && kubectl kustomize . | sed "s|ghcr.io/mlpatterns/model-server:$TAG|$REGISTRY/model-server:$TAG|" | kubectl apply -f -)
kubectl apply -k manifests/monitoring

step "one pattern: shadow-ab in the namespace mlpatterns, in the mesh"
kubectl create namespace mlpatterns --dry-run=client -o yaml | kubectl apply -f -
kubectl label namespace mlpatterns istio-injection=enabled --overwrite
helm upgrade --install iris charts/shadow-ab -n mlpatterns --wait \
  --set image.repository="$REGISTRY/model-server" --set image.tag="$TAG" \
  --set monitoring.enabled=true --set monitoring.rules.enabled=true
helm test iris -n mlpatterns

cat <<'DONE'

ready. Grafana (admin / `kubectl get secret -n monitoring kube-prometheus-stack-grafana -o jsonpath='{.data.admin-password}' | base64 -d`):
  kubectl port-forward -n monitoring svc/kube-prometheus-stack-grafana 3000:80   # http://localhost:3000, folder mlpatterns
Traffic, from inside the mesh (the mirror happens in the calling sidecar):
  kubectl run load -n mlpatterns --rm -it --image=curlimages/curl -- sh -c \
    'while true; do curl -s iris-shadow-ab/v1/models/iris:predict -d "{\"instances\": [[6.8, 2.8, 4.8, 1.4]]}"; sleep 0.1; done'
Remove it all: kind delete cluster --name mlpatterns
DONE
