"""The shared pieces of every chart's values.schema.json, so the charts agree on what a `model`, a
`server` or `resources` is. Every object is closed (unknown keys are errors) and every number has
its range, so Helm refuses a typo or an impossible value before anything renders."""

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


def number(minimum: float, maximum: float) -> Schema:
    return {"type": "number", "minimum": minimum, "maximum": maximum}


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
    return obj({"requests": amounts, "limits": amounts})


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
