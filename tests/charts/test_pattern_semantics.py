"""What each chart means, not only that it renders: the objects that express the pattern, wired
the way KServe and Kubernetes expect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlpatterns.charts.rendering import Manifest, render
from mlpatterns.paths import REPOSITORY, charts_dir
from tests.charts.scenarios import objects, one, rendered


def chart(name: str) -> Path:
    return charts_dir() / name


def scenario(name: str, ci: str) -> list[Manifest]:
    return rendered(chart(name), chart(name) / "ci" / ci)


def _predictor(manifests: list[Manifest]) -> dict[str, Any]:
    return dict(one(manifests, "InferenceService")["spec"]["predictor"])


def _args(container: dict[str, Any]) -> list[str]:
    return [str(arg) for arg in container.get("args", [])]


def test_web_single_is_a_deployment_with_a_service_and_an_hpa_and_no_kserve() -> None:
    manifests = rendered(chart("web-single"), None)
    kinds = {m.kind for m in manifests}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "ServiceAccount", "NetworkPolicy"} <= kinds
    assert not {"InferenceService", "ServingRuntime", "PodDisruptionBudget"} & kinds
    deployment = one(manifests, "Deployment")
    (server,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "--model_uri=gs://kfserving-examples/models/sklearn/1.0/model" in _args(server)
    assert one(manifests, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    service = one(manifests, "Service")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_web_single_fixed_replicas_get_a_budget_and_no_hpa() -> None:
    manifests = scenario("web-single", "02-fixed-replicas-values.yaml")
    assert one(manifests, "Deployment")["spec"]["replicas"] == 3
    assert objects(manifests, "HorizontalPodAutoscaler") == []
    assert one(manifests, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_web_single_server_settings_become_arguments() -> None:
    manifests = scenario("web-single", "03-batching-prediction-log-values.yaml")
    (server,) = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert {
        "--role=canary", "--workers=2", "--enable_batching=true", "--max_batch_size=64",
        "--prediction_log_sink=redis", "--prediction_log_redis_url=redis://redis-master.data.svc:6379/0",
        "--model_version=7",
    } <= set(_args(server))  # fmt: skip


def test_web_single_registry_credentials_come_from_a_secret() -> None:
    manifests = scenario("web-single", "01-mlflow-registry-values.yaml")
    (server,) = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert {"name": "MLFLOW_TRACKING_URI", "value": "http://mlflow.mlflow.svc:5000"} in server["env"]
    assert server["envFrom"] == [{"secretRef": {"name": "mlflow-credentials"}}]


def test_synchronous_is_an_inference_service_on_the_charts_runtime() -> None:
    manifests = rendered(chart("synchronous"), None)
    isvc = one(manifests, "InferenceService")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    model = isvc["spec"]["predictor"]["model"]
    assert model["runtime"] == one(manifests, "ServingRuntime")["metadata"]["name"]
    assert model["storageUri"] == "gs://kfserving-examples/models/sklearn/1.0/model"
    assert model["modelFormat"] == {"name": "sklearn"}


def test_synchronous_knative_mode() -> None:
    isvc = one(scenario("synchronous", "01-knative-values.yaml"), "InferenceService")
    assert isvc["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "Knative"}
    assert (isvc["spec"]["predictor"]["minReplicas"], isvc["spec"]["predictor"]["scaleMetric"]) == (0, "concurrency")


def test_synchronous_can_use_the_platform_runtime() -> None:
    manifests = scenario("synchronous", "02-ha-cluster-runtime-values.yaml")
    assert objects(manifests, "ServingRuntime") == []
    assert _predictor(manifests)["model"]["runtime"] == "mlpatterns-server"
    assert one(manifests, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == {
        "serving.kserve.io/inferenceservice": "demo-synchronous", "component": "predictor"
    }  # fmt: skip
    assert one(manifests, "PodMonitor")["spec"]["podMetricsEndpoints"][0]["port"] == "http1"


def test_model_load_storage_credentials_and_endpoint_reach_the_predictor() -> None:
    manifests = scenario("model-load", "01-minio-values.yaml")
    predictor = _predictor(manifests)
    assert predictor["model"]["storageUri"] == "s3://models/iris/v3"
    account = one(manifests, "ServiceAccount")
    assert predictor["serviceAccountName"] == account["metadata"]["name"]
    assert account["secrets"] == [{"name": "minio-credentials"}]
    assert account["metadata"]["annotations"] == {
        "serving.kserve.io/s3-endpoint": "minio.minio.svc:9000",
        "serving.kserve.io/s3-usehttps": "0",
        "serving.kserve.io/s3-verifyssl": "0",
        "serving.kserve.io/s3-region": "us-east-1",
    }


def test_model_load_from_the_registry_is_fetched_by_the_server() -> None:
    model = _predictor(scenario("model-load", "02-mlflow-registry-values.yaml"))["model"]
    assert "storageUri" not in model, "KServe's storage initializer cannot read models:/"
    assert _args(model)[:2] == ["--model_uri=models:/iris@champion", "--model_dir=/tmp/model"]
    assert {"name": "MLFLOW_TRACKING_URI", "value": "http://mlflow.mlflow.svc:5000"} in model["env"]
    assert model["envFrom"] == [{"secretRef": {"name": "mlflow-credentials"}}]


@pytest.mark.parametrize("name", ["synchronous", "preprocess-prediction", "web-single"])
def test_every_serving_chart_serves_a_registered_champion(name: str) -> None:
    values = {"model": {"uri": "models:/iris@champion", "trackingUri": "http://mlflow.mlflow.svc:5000"}}
    manifests = render(chart(name), values)
    if name == "web-single":
        server = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    else:
        server = _predictor(manifests)["model"]
        assert "storageUri" not in server, "KServe's storage initializer cannot read models:/"
    assert "--model_uri=models:/iris@champion" in _args(server)
    assert {"name": "MLFLOW_TRACKING_URI", "value": "http://mlflow.mlflow.svc:5000"} in server["env"]


def test_model_load_identity_without_keys() -> None:
    manifests = scenario("model-load", "03-gcs-workload-identity-values.yaml")
    account = one(manifests, "ServiceAccount")
    assert "secrets" not in account
    assert account["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "model-reader@acme.iam.gserviceaccount.com"
    }
    assert _predictor(manifests)["model"]["storageUri"] == "gs://acme-models/iris/v3"


def test_model_in_image_has_no_storage_initializer() -> None:
    for ci in (None, chart("model-in-image") / "ci" / "01-pinned-image-values.yaml"):
        manifests = rendered(chart("model-in-image"), ci)
        text = yaml.safe_dump([m.document for m in manifests])
        assert "storageUri" not in text
        assert "storage-initializer" not in text
        assert objects(manifests, "ServingRuntime") == []
        predictor = _predictor(manifests)
        assert "model" not in predictor
        (container,) = predictor["containers"]
        assert not any(arg.startswith(("--model_uri", "--model_dir")) for arg in _args(container))
    assert container["image"] == (
        "registry.example.com/ml/iris-server@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )


def test_preprocess_prediction_has_two_components_with_their_own_resources() -> None:
    values_path = chart("preprocess-prediction") / "ci" / "02-heavy-preprocessing-values.yaml"
    manifests = rendered(chart("preprocess-prediction"), values_path)
    spec = one(manifests, "InferenceService")["spec"]
    (transformer,) = spec["transformer"]["containers"]
    assert transformer["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
    assert spec["predictor"]["model"]["resources"]["limits"] == {"cpu": "500m", "memory": "512Mi"}
    assert "--model_uri=models:/iris-preprocessor@champion" in _args(transformer)
    assert not any(arg.startswith("--predictor_host") for arg in _args(transformer)), "KServe wires the predictor"
    assert spec["predictor"]["model"]["storageUri"] == "s3://models/iris/classifier"
    test_pod = next(m.document for m in manifests if m.is_test_hook and m.kind == "Pod")
    url = next(e["value"] for e in test_pod["spec"]["containers"][0]["env"] if e["name"] == "URL")
    assert url == "http://demo-preprocess-prediction-transformer.mlpatterns.svc/v1/models/iris:predict"


def test_preprocess_prediction_budgets_each_component() -> None:
    manifests = scenario("preprocess-prediction", "01-v2-between-values.yaml")
    budgets = {
        b["metadata"]["name"]: b["spec"]["selector"]["matchLabels"] for b in objects(manifests, "PodDisruptionBudget")
    }
    assert budgets == {
        "demo-preprocess-prediction-transformer": {
            "serving.kserve.io/inferenceservice": "demo-preprocess-prediction", "component": "transformer"
        }
    }  # fmt: skip


def test_the_helm_test_hook_sends_a_real_prediction() -> None:
    for name in ("web-single", "synchronous", "model-load", "model-in-image", "preprocess-prediction"):
        hooks = [m for m in rendered(chart(name), None) if m.is_test_hook]
        pod = next(m.document for m in hooks if m.kind == "Pod")
        env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
        assert env["URL"].endswith("/v1/models/iris:predict"), name
        assert env["INSTANCES"] == "[[6.8,2.8,4.8,1.4],[6,3.4,4.5,1.6]]"
        assert "urllib.request.urlopen" in pod["spec"]["containers"][0]["args"][0]
        assert any(m.kind == "NetworkPolicy" for m in hooks), f"{name}: the test pod is fenced in too"


def test_charts_runtime_matches_the_platform_runtime() -> None:
    chart_runtime = one(rendered(chart("synchronous"), None), "ServingRuntime")["spec"]
    platform = yaml.safe_load((REPOSITORY / "manifests/kserve/cluster-serving-runtime.yaml").read_text())["spec"]
    for key in ("supportedModelFormats", "protocolVersions", "annotations"):
        assert chart_runtime[key] == platform[key], key
    (ours,), (theirs,) = chart_runtime["containers"], platform["containers"]
    for key in ("args", "env", "ports", "securityContext", "readinessProbe", "livenessProbe", "volumeMounts"):
        assert ours[key] == theirs[key], key


def test_batch_training_is_a_cronjob_that_never_overlaps() -> None:
    manifests = scenario("batch-training", "01-s3-source-values.yaml")
    cronjob = one(manifests, "CronJob")
    spec = cronjob["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == ("30 3 * * 1", "Europe/Paris", "Forbid")
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["mlpatterns-pipelines", "train"]
    assert "--param=source=s3://datasets/churn/latest.csv" in container["args"]
    assert "--param=metric=f1" in container["args"]
    assert container["envFrom"] == [
        {"secretRef": {"name": "mlflow-credentials"}},
        {"secretRef": {"name": "minio-credentials"}},
    ]
    (policy,) = [m.document for m in manifests if m.kind == "NetworkPolicy" and not m.is_test_hook]
    assert policy["spec"]["ingress"] == [], "training pods accept no connections"
