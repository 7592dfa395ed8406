"""What every InferenceService chart's values have: the model, the deployment mode, the runtime
and the predictor's scaling."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import DNS_LABEL, Schema, boolean, common, document, integer, obj, string

# Where an InferenceService's model can come from: what KServe's storage initializer fetches, the
# MLflow registry (models:/), which the server fetches itself, and a local path, which only
# `mlpatterns up` renders (the templates refuse it for a cluster, with the reason).
KSERVE_URI = r"^(s3://|gs://|https?://|pvc://|models:/|file://|/)"
MODEL_FORMATS = ["sklearn", "xgboost", "onnx", "mlflow"]
DEPLOYMENT_MODES = ["Standard", "Knative", "RawDeployment", "Serverless"]


def scaling(minimum_replicas: int = 0) -> Schema:
    return obj(
        {
            "minReplicas": integer(minimum_replicas, 1000),
            "maxReplicas": integer(1, 1000),
            "scaleMetric": {"enum": ["cpu", "memory", "concurrency", "rps"]},
            "scaleTarget": integer(1),
        },
        ["minReplicas", "maxReplicas", "scaleMetric", "scaleTarget"],
    )


def standard_needs_a_replica() -> Schema:
    """Standard mode cannot scale to zero (nor on concurrency or rps: the templates say so)."""
    return {
        "if": {"properties": {"deploymentMode": {"enum": ["Standard", "RawDeployment"]}}},
        "then": {"properties": {"predictor": {"properties": {"minReplicas": {"minimum": 1}}}}},
    }


def kserve(model_schema: Schema, extra: dict[str, Schema] | None = None) -> Schema:
    """An InferenceService chart."""
    return document(
        {
            **common(),
            "model": model_schema,
            "deploymentMode": {"enum": DEPLOYMENT_MODES},
            "runtime": obj({"create": boolean(), "name": string(pattern=DNS_LABEL)}, ["create"]),
            "predictor": scaling(),
            **(extra or {}),
        },
        ["image", "model", "deploymentMode", "predictor", "server", "resources", "test"],
    ) | {"allOf": [standard_needs_a_replica()]}
