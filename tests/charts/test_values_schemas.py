"""values.schema.json and the templates refuse wrong types, unknown keys and impossible values,
and Helm's message names the key; nothing renders from bad values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlpatterns.charts.rendering import ChartError, render
from mlpatterns.paths import charts_dir

KSERVE_CHARTS = ["synchronous", "model-load", "model-in-image", "preprocess-prediction"]
SERVER_CHARTS = ["web-single", *KSERVE_CHARTS]

BAD_VALUES: list[tuple[list[str], dict[str, Any], str]] = [
    (SERVER_CHARTS, {"replica": 3}, "at the top level: additional properties 'replica' not allowed"),
    (SERVER_CHARTS, {"image": {"pullPolicy": "Sometimes"}}, "at 'image.pullPolicy'"),
    (SERVER_CHARTS, {"image": {"digest": "latest"}}, "at 'image.digest'"),
    (SERVER_CHARTS, {"model": {"name": "my model"}}, "at 'model.name'"),
    (SERVER_CHARTS, {"server": {"workers": 0}}, "at 'server.workers'"),
    (SERVER_CHARTS, {"server": {"predictionLog": {"sink": "kafka"}}}, "at 'server.predictionLog.sink'"),
    (SERVER_CHARTS, {"server": {"batching": {"enabled": "yes"}}}, "at 'server.batching.enabled'"),
    (SERVER_CHARTS, {"server": {"extraArgs": ["workers=2"]}}, "at 'server.extraArgs[0]'"),
    (SERVER_CHARTS, {"resources": {"limits": {"cpu": "lots"}}}, "at 'resources.limits.cpu'"),
    (SERVER_CHARTS, {"credentialsSecret": "Not_A_Name"}, "at 'credentialsSecret'"),
    (SERVER_CHARTS, {"test": {"instances": []}}, "at 'test.instances'"),
    (SERVER_CHARTS, {"nameOverride": "x" * 64}, "at 'nameOverride'"),
    (["web-single"], {"replicas": "two"}, "at 'replicas': got string, want integer"),
    (["web-single"], {"service": {"port": 70000}}, "at 'service.port'"),
    (["web-single"], {"model": {"uri": "ftp://models/iris"}}, "at 'model.uri'"),
    (["web-single"], {"autoscaling": {"minReplicas": 6, "maxReplicas": 2}}, "minReplicas (6) is above"),
    (KSERVE_CHARTS, {"deploymentMode": "Serverful"}, "at 'deploymentMode'"),
    (KSERVE_CHARTS, {"predictor": {"minReplicas": 0}}, "at 'predictor.minReplicas'"),
    (KSERVE_CHARTS, {"predictor": {"scaleMetric": "rps"}}, "predictor.scaleMetric rps needs deploymentMode Knative"),
    (KSERVE_CHARTS, {"predictor": {"minReplicas": 4, "maxReplicas": 2}}, "predictor.minReplicas (4) is above"),
    (["synchronous", "model-load", "preprocess-prediction"], {"model": {"format": "pytorch"}}, "at 'model.format'"),
    (
        ["web-single", "synchronous", "model-load", "preprocess-prediction"],
        {"model": {"uri": "models:/iris@champion"}},
        "model.uri is models:/iris@champion, a model in the MLflow registry: set model.trackingUri to the "
        "tracking server the pods can reach (e.g. --set model.trackingUri=http://mlflow.mlflow.svc:5000)",
    ),
    (["preprocess-prediction"], {"transformer": {"uri": "models:/pre@1"}}, "transformer.uri is models:/pre@1, a model"),
    (["model-load"], {"storage": {"s3Endpoint": "http://minio:9000"}}, "at 'storage.s3Endpoint'"),
    (["model-load"], {"storage": {"s3UseHttps": "no"}}, "at 'storage.s3UseHttps'"),
    (["model-in-image"], {"runtime": {"create": True}}, "additional properties 'runtime' not allowed"),
    (["preprocess-prediction"], {"transformer": {"predictorProtocol": "grpc"}}, "at 'transformer.predictorProtocol'"),
    (["preprocess-prediction"], {"transformer": {"uri": "ftp://x"}}, "at 'transformer.uri'"),
]


@pytest.mark.parametrize(
    ("chart", "values", "message"),
    [
        pytest.param(chart, values, message, id=f"{chart}:{message[:40]}")
        for charts, values, message in BAD_VALUES
        for chart in charts
    ],
)
def test_bad_values_are_refused_with_the_key_named(chart: str, values: dict[str, Any], message: str) -> None:
    with pytest.raises(ChartError) as refused:
        render(charts_dir() / chart, values)
    assert message in str(refused.value)


@pytest.mark.parametrize("chart", KSERVE_CHARTS)
def test_knative_may_scale_to_zero_on_requests(chart: str) -> None:
    values = {"deploymentMode": "Knative", "predictor": {"minReplicas": 0, "scaleMetric": "rps"}}
    (isvc,) = [m.document for m in render(Path(charts_dir() / chart), values) if m.kind == "InferenceService"]
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    predictor = isvc["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["scaleMetric"]) == (0, "rps")
