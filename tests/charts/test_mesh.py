"""Mesh security as the charts render it: with mesh.enabled, an Istio AuthorizationPolicy admits
the ingress gateway, the release's own pods, Knative's activator in Knative mode and the listed
callers; Prometheus reads /metrics (on a port of its own, left to plain text, if asked); the
NetworkPolicy admits exactly the namespaces those identities live in; sidecars are injected."""

from __future__ import annotations

from typing import Any

import pytest

from mlpatterns.charts.rendering import ChartError, Manifest, render
from mlpatterns.paths import charts_dir
from tests.charts.scenarios import objects, one

SERVING = ["web-single", "synchronous", "model-load", "model-in-image", "preprocess-prediction"]
GATEWAY = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
CALLER = "cluster.local/ns/shop/sa/checkout"


def mesh(chart: str, **values: Any) -> list[Manifest]:
    return render(charts_dir() / chart, {"mesh": {"enabled": True, "callers": [CALLER]}, **values})


def network_policy(manifests: list[Manifest]) -> dict[str, Any]:
    """The release's NetworkPolicy (not the helm test hook's)."""
    (found,) = [m.document for m in manifests if m.kind == "NetworkPolicy" and not m.is_test_hook]
    return found


def _namespaces(policy: dict[str, Any], port: int) -> set[str]:
    (rule,) = [r for r in policy["spec"]["ingress"] if r["ports"] == [{"port": port, "protocol": "TCP"}]]
    return {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in rule["from"]}


@pytest.mark.parametrize("chart", SERVING)
def test_off_by_default(chart: str) -> None:
    manifests = render(charts_dir() / chart, {})
    assert objects(manifests, "AuthorizationPolicy") == []
    assert "from" not in network_policy(manifests)["spec"]["ingress"][0]


@pytest.mark.parametrize("chart", SERVING)
def test_the_policy_admits_who_may_call_and_the_network_policy_agrees(chart: str) -> None:
    manifests = mesh(chart)
    policy = one(manifests, "AuthorizationPolicy")
    network = network_policy(manifests)
    assert policy["spec"]["selector"]["matchLabels"] == network["spec"]["podSelector"]["matchLabels"]
    predict, metrics = policy["spec"]["rules"]
    principals = predict["from"][0]["source"]["principals"]
    account = one(manifests, "ServiceAccount")["metadata"]["name"]
    assert principals == [GATEWAY, f"cluster.local/ns/mlpatterns/sa/{account}", CALLER]
    assert predict["to"] == [{"operation": {"ports": ["8080"]}}]
    assert metrics == {
        "from": [{"source": {"principals": ["cluster.local/ns/monitoring/sa/prometheus-k8s"]}}],
        "to": [{"operation": {"ports": ["8080"], "methods": ["GET"], "paths": ["/metrics"]}}],
    }
    # Every namespace a principal lives in, and no other, reaches the prediction port.
    assert _namespaces(network, 8080) == {"istio-system", "mlpatterns", "shop"}
    test_pod = next(m.document for m in manifests if m.kind == "Pod")
    assert test_pod["spec"]["serviceAccountName"] == account, "helm test calls as the release's identity"
    assert "quitquitquit" in test_pod["spec"]["containers"][0]["args"][0], "the test pod ends its sidecar"


def test_sidecars_are_injected() -> None:
    isvc = one(mesh("synchronous"), "InferenceService")
    assert isvc["metadata"]["annotations"]["sidecar.istio.io/inject"] == "true"
    deployment = one(mesh("web-single"), "Deployment")
    assert deployment["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] == "true"


def test_metrics_on_their_own_port_are_left_to_plain_text_for_prometheus() -> None:
    manifests = mesh("synchronous", monitoring={"enabled": True, "port": 9090})
    predictor = one(manifests, "InferenceService")["spec"]["predictor"]["model"]
    assert "--metrics_port=9090" in predictor["args"]
    runtime = one(manifests, "ServingRuntime")["spec"]["containers"][0]
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in runtime["ports"]
    assert one(manifests, "PodMonitor")["spec"]["podMetricsEndpoints"][0]["portNumber"] == 9090
    metrics_rule = one(manifests, "AuthorizationPolicy")["spec"]["rules"][1]
    assert metrics_rule == {"to": [{"operation": {"ports": ["9090"], "methods": ["GET"], "paths": ["/metrics"]}}]}
    peer = one(manifests, "PeerAuthentication")["spec"]
    assert (peer["mtls"], peer["portLevelMtls"]) == ({"mode": "STRICT"}, {"9090": {"mode": "PERMISSIVE"}})
    assert _namespaces(network_policy(manifests), 9090) == {"monitoring"}


def test_knative_mode_admits_the_activator() -> None:
    values = {"deploymentMode": "Knative"}
    principals = one(mesh("synchronous", **values), "AuthorizationPolicy")["spec"]["rules"][0]["from"][0]["source"]
    assert "cluster.local/ns/knative-serving/sa/controller" in principals["principals"]


def test_web_single_exposes_the_metrics_port_for_its_service_monitor() -> None:
    manifests = render(charts_dir() / "web-single", {"monitoring": {"enabled": True, "port": 9090}})
    ports = one(manifests, "Service")["spec"]["ports"]
    assert {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"} in ports
    assert one(manifests, "ServiceMonitor")["spec"]["endpoints"][0]["port"] == "metrics"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"monitoring": {"enabled": True, "port": 8080}}, "monitoring.port 8080 is the prediction port"),
        ({"mesh": {"enabled": True, "callers": ["checkout"]}}, "at 'mesh.callers[0]'"),
    ],
)
def test_values_that_cannot_work_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ChartError, match=message.replace("[", r"\[").replace("]", r"\]")):
        render(charts_dir() / "synchronous", values)
