"""The values.schema.json of every chart, built from shared pieces so the charts agree on what a
`model`, a `server` or `resources` is. `mlpatterns charts sync` writes them; the tests fail when a
chart's committed schema differs. Every object is closed (unknown keys are errors) and every
number has its range, so Helm refuses a typo or an impossible value before anything renders."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
QUANTITY = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
DURATION = r"^[0-9]+(ms|s|m|h)$"


def obj(properties: dict[str, Schema], required: list[str] | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def string(description: str = "", **extra: Any) -> Schema:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def integer(minimum: int, maximum: int | None = None) -> Schema:
    schema: Schema = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def boolean() -> Schema:
    return {"type": "boolean"}


def string_map() -> Schema:
    return {"type": "object", "additionalProperties": {"type": "string"}}


def optional_name() -> Schema:
    """A Kubernetes object name, or empty for "none"."""
    return {"type": "string", "anyOf": [{"maxLength": 0}, {"pattern": DNS_LABEL, "maxLength": 63}]}


def names() -> dict[str, Schema]:
    return {
        "nameOverride": {"type": "string", "maxLength": 63},
        "fullnameOverride": {"type": "string", "maxLength": 63},
    }


def image() -> Schema:
    return obj(
        {
            "repository": string(minLength=1),
            "tag": string(),
            "digest": {"type": "string", "anyOf": [{"maxLength": 0}, {"pattern": r"^sha256:[a-f0-9]{64}$"}]},
            "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
        },
        ["repository", "pullPolicy"],
    )


def model(uri_pattern: str | None, extra: dict[str, Schema] | None = None) -> Schema:
    properties: dict[str, Schema] = {
        "name": string("model name on the endpoint path", pattern=MODEL_NAME, maxLength=63),
        "version": string(),
        "trackingUri": {"type": "string", "anyOf": [{"maxLength": 0}, {"pattern": r"^(https?|databricks|file)://"}]},
    }
    if uri_pattern is not None:
        properties["uri"] = string("where the model comes from", pattern=uri_pattern)
    properties.update(extra or {})
    return obj(properties, ["name"])


def server() -> Schema:
    return obj(
        {
            "role": string(pattern=r"^[a-z0-9][a-z0-9-]*$"),
            "workers": integer(1, 64),
            "startupSeconds": integer(5, 7200),
            "tmpSize": string(pattern=QUANTITY),
            "batching": obj(
                {
                    "enabled": boolean(),
                    "maxBatchSize": integer(1, 4096),
                    "maxBatchWaitMs": {"type": "number", "minimum": 0, "maximum": 10000},
                },
                ["enabled"],
            ),
            "predictionLog": obj(
                {
                    "sink": {"enum": ["none", "stdout", "redis", "http"]},
                    "redisUrl": {"type": "string", "anyOf": [{"maxLength": 0}, {"pattern": r"^rediss?://"}]},
                    "stream": string(minLength=1),
                    "httpUrl": {"type": "string", "anyOf": [{"maxLength": 0}, {"pattern": r"^https?://"}]},
                },
                ["sink"],
            ),
            "env": {"type": "array", "items": {"type": "object", "required": ["name"]}},
            "extraArgs": {"type": "array", "items": {"type": "string", "pattern": "^--"}},
        },
        ["role", "workers"],
    )


def resources() -> Schema:
    quantity = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": QUANTITY}]}
    amounts = {"type": "object", "additionalProperties": quantity}
    return obj({"requests": amounts, "limits": amounts, "claims": {"type": "array"}})


def service_account() -> Schema:
    return obj(
        {
            "create": boolean(),
            "name": optional_name(),
            "annotations": string_map(),
            "secrets": {"type": "array", "items": {"type": "string", "pattern": DNS_LABEL}},
        },
        ["create"],
    )


def network_policy() -> Schema:
    return obj({"enabled": boolean(), "from": {"type": "array", "items": {"type": "object"}}}, ["enabled"])


def monitoring() -> Schema:
    return obj(
        {
            "enabled": boolean(),
            "interval": string(pattern=DURATION),
            "labels": string_map(),
            "port": integer(0, 65535),
        },
        ["enabled"],
    )


# A SPIFFE identity as Istio writes it: <trust domain>/ns/<namespace>/sa/<service account>.
PRINCIPAL = r"^[a-z0-9.-]+/ns/[a-z0-9]([-a-z0-9]*[a-z0-9])?/sa/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


def mesh() -> Schema:
    principal = string(pattern=PRINCIPAL)
    return obj(
        {
            "enabled": boolean(),
            "ingressGateway": principal,
            "callers": {"type": "array", "items": principal},
            "prometheus": principal,
        },
        ["enabled"],
    )


def placement() -> dict[str, Schema]:
    return {
        "podAnnotations": string_map(),
        "nodeSelector": string_map(),
        "tolerations": {"type": "array", "items": {"type": "object"}},
        "affinity": {"type": "object"},
    }


def test_hook() -> Schema:
    return obj(
        {
            "instances": {"type": "array", "minItems": 1},
            "expected": {"type": ["array", "null"]},
        },
        ["instances"],
    )


def common() -> dict[str, Schema]:
    """What every chart that runs the model server has."""
    return {
        **names(),
        "image": image(),
        "credentialsSecret": optional_name(),
        "server": server(),
        "resources": resources(),
        "serviceAccount": service_account(),
        "networkPolicy": network_policy(),
        "monitoring": monitoring(),
        "mesh": mesh(),
        **placement(),
        "test": test_hook(),
    }


def document(properties: dict[str, Schema], required: list[str]) -> Schema:
    # Helm adds a values scope for each dependency (the library chart) and the global scope.
    helm_scopes = {"global": {"type": "object"}, "mlpatterns-lib": {"type": "object"}}
    return {"$schema": "http://json-schema.org/draft-07/schema#", **obj({**properties, **helm_scopes}, required)}


# Where a model can come from when the server itself fetches it (--model_uri).
SERVER_URI = r"^(s3://|gs://|https?://|pvc://|models:/|file://|/)"


def web_single() -> Schema:
    return document(
        {
            **common(),
            "model": model(SERVER_URI),
            "replicas": integer(1, 1000),
            "autoscaling": obj(
                {
                    "enabled": boolean(),
                    "minReplicas": integer(1, 1000),
                    "maxReplicas": integer(1, 1000),
                    "targetCPUUtilizationPercentage": integer(1, 100),
                },
                ["enabled"],
            ),
            "service": obj(
                {"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}, "port": integer(1, 65535)},
                ["type", "port"],
            ),
        },
        ["image", "model", "server", "resources", "test"],
    )


# Where an InferenceService's model can come from: what KServe's storage initializer fetches, and
# the MLflow registry (models:/), which the server fetches itself.
KSERVE_URI = r"^(s3://|gs://|https?://|pvc://|models:/)"
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


def kserve(model_schema: Schema, extra: dict[str, Schema] | None = None) -> Schema:
    """An InferenceService chart. Standard mode cannot scale to zero nor on concurrency/rps."""
    standard_only = {
        "if": {"properties": {"deploymentMode": {"enum": ["Standard", "RawDeployment"]}}},
        "then": {"properties": {"predictor": {"properties": {"minReplicas": {"minimum": 1}}}}},
    }
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
    ) | {"allOf": [standard_only]}


def synchronous() -> Schema:
    return kserve(model(KSERVE_URI, {"format": {"enum": MODEL_FORMATS}}))


def model_load() -> Schema:
    storage = obj(
        {
            "s3Endpoint": {"type": "string", "anyOf": [{"maxLength": 0}, {"pattern": r"^[A-Za-z0-9.-]+(:[0-9]+)?$"}]},
            "s3UseHttps": boolean(),
            "s3VerifySsl": boolean(),
            "s3Region": string(),
            "credentialsSecret": optional_name(),
        }
    )
    return kserve(model(KSERVE_URI, {"format": {"enum": MODEL_FORMATS}}), {"storage": storage})


def model_in_image() -> Schema:
    schema = kserve(model(None))
    del schema["properties"]["runtime"]
    return schema


def preprocess_prediction() -> Schema:
    transformer = scaling()
    transformer["properties"].update(
        {
            "uri": string("where the preprocessor comes from", pattern=SERVER_URI),
            "predictorProtocol": {"enum": ["v1", "v2"]},
            "workers": integer(1, 64),
            "resources": resources(),
        }
    )
    transformer["required"] += ["uri", "predictorProtocol", "workers", "resources"]
    return kserve(model(KSERVE_URI, {"format": {"enum": MODEL_FORMATS}}), {"transformer": transformer})


CRON = r"^(@(yearly|annually|monthly|weekly|daily|hourly)|(\S+\s+){4}\S+)$"


def batch_training() -> Schema:
    """The CronJob chart: no model server, so no server/model/test sections."""
    properties = {
        key: value for key, value in common().items() if key not in ("server", "test", "credentialsSecret", "mesh")
    }
    return document(
        {
            **properties,
            "schedule": string("five-field cron", pattern=CRON),
            "timeZone": string(),
            "suspend": boolean(),
            "training": obj(
                {
                    "source": string(pattern=r"^(sklearn://|s3://|https?://|file://|/)"),
                    "label": string(minLength=1),
                    "expectation": {"type": "object"},
                    "testSize": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                    "seed": integer(0),
                    "algorithm": {
                        "enum": ["hist_gradient_boosting", "random_forest", "logistic_regression", "xgboost"]
                    },
                    "hyperparameters": {"type": "object"},
                    "modelName": string(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
                    "metric": {"enum": ["accuracy", "balanced_accuracy", "f1", "precision", "recall", "roc_auc"]},
                    "margin": {"type": "number", "minimum": 0},
                },
                ["source", "label", "algorithm", "modelName", "metric"],
            ),
            "mlflow": obj(
                {"trackingUri": string(pattern=r"^(https?|databricks)://"), "credentialsSecret": optional_name()},
                ["trackingUri"],
            ),
            "storage": obj({"credentialsSecret": optional_name()}),
            "job": obj(
                {
                    "backoffLimit": integer(0, 10),
                    "activeDeadlineSeconds": integer(60),
                    "ttlSecondsAfterFinished": integer(0),
                    "startingDeadlineSeconds": integer(10),
                    "successfulJobsHistoryLimit": integer(0, 100),
                    "failedJobsHistoryLimit": integer(1, 100),
                }
            ),
            "tmpSize": string(pattern=QUANTITY),
        },
        ["image", "schedule", "training", "mlflow", "resources"],
    )


CHART_SCHEMAS = {
    "batch-training": batch_training,
    "web-single": web_single,
    "synchronous": synchronous,
    "model-load": model_load,
    "model-in-image": model_in_image,
    "preprocess-prediction": preprocess_prediction,
}
