"""What the charts with several models have (shadow-ab, online-ab, condition-based): each model's
own uri, version and format, the router, its routes' timeouts and retries, the gates for Flagger
and Argo Rollouts, and the Redis of the prediction logs."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import (
    DNS_LABEL,
    MODEL_NAME,
    QUANTITY,
    Schema,
    boolean,
    common,
    document,
    integer,
    number,
    obj,
    optional_name,
    server,
    string,
)
from mlpatterns.charts.schemas.kserve import (
    DEPLOYMENT_MODES,
    KSERVE_URI,
    MODEL_FORMATS,
    scaling,
    standard_needs_a_replica,
)
from mlpatterns.charts.schemas.redis import redis

PERCENT = number(0, 100)
# A header name as Istio and Gateway API take it (lower case: HTTP/2 sends them so).
HEADER = r"^[a-z0-9][a-z0-9-]*$"


def variant_model() -> Schema:
    return obj(
        {"uri": string("where the model comes from", pattern=KSERVE_URI), "version": string(),
         "format": {"enum": MODEL_FORMATS}},
        ["uri", "format"],
    )  # fmt: skip


def variant_name() -> Schema:
    """A variant's name: its role on metrics and events, its InferenceService's suffix."""
    return string(pattern=DNS_LABEL, maxLength=30)


def header_match() -> Schema:
    """A header's value, exactly (a string), or {exact|prefix|regex: value}."""
    one = [obj({kind: string(minLength=1)}, [kind]) for kind in ("exact", "prefix", "regex")]
    return {"anyOf": [string(minLength=1), *one]}


def match() -> Schema:
    return obj(
        {
            "headers": {"type": "object", "propertyNames": {"pattern": HEADER}, "additionalProperties": header_match()},
            "uriPrefix": string(pattern=r"^/"),
        }
    )


def routers(*names: str) -> dict[str, Schema]:
    return {
        "trafficRouter": {"enum": list(names)},
        "istio": obj(
            {
                "gateways": {"type": "array", "minItems": 1, "items": string(minLength=1)},
                "hosts": {"type": "array", "items": string(minLength=1)},
                "trafficPolicy": {"type": "object"},
            },
            ["gateways"],
        ),
        "gatewayApi": obj(
            {
                "parentRefs": {
                    "type": "array",
                    "items": obj({"name": string(minLength=1)}, ["name"], additionalProperties=True),
                },
                "hostnames": {"type": "array", "items": string(minLength=1)},
            }
        ),
        "route": obj(
            {
                "timeoutSeconds": integer(1, 3600),
                "retries": obj(
                    {"attempts": integer(0, 10), "perTryTimeoutSeconds": integer(1, 3600), "retryOn": string()},
                    ["attempts"],
                ),
            },
            ["timeoutSeconds"],
        ),
    }


def analysis(bound: str) -> Schema:
    """The gates' Prometheus and their bound: minAgreement (shadow) or maxErrorRatio (canaries)."""
    return obj(
        {
            "prometheusAddress": string(pattern=r"^https?://"),
            bound: number(0, 1),
            "flagger": obj({"enabled": boolean()}, ["enabled"]),
            "argoRollouts": obj({"enabled": boolean()}, ["enabled"]),
        },
        ["prometheusAddress", "flagger", "argoRollouts"],
    )


BACKENDS = ["kserve", "seldon-core-v1", "seldon-core-v2"]


def backends(protocols: bool = True) -> dict[str, Schema]:
    """`backend` and its Seldon settings, on the charts that also render for Seldon Core (seldon.md);
    `protocols`: whether Seldon Core 1's executor may speak v2 to the servers, not only Seldon's."""
    fields: dict[str, Schema] = {
        "requirements": {"type": "array", "items": string(minLength=1)},
        "memory": string(pattern=QUANTITY),
        "server": optional_name(),
    }
    if protocols:
        fields["protocol"] = {"enum": ["seldon", "v2"]}
    seldon = obj(fields, list(fields))
    return {"backend": {"enum": BACKENDS}, "seldon": seldon}


def qa_chart(properties: dict[str, Schema], required: list[str], routed: bool = True) -> Schema:
    """A chart of several InferenceServices behind one entry Service and its routes (routed), or
    behind an InferenceGraph (graph.py)."""
    serving = common()
    server_schema = server()
    server_schema["required"] = ["workers"]
    del server_schema["properties"]["role"]  # each model's role is its variant's name
    serving["server"] = server_schema
    test = serving["test"]
    test["properties"]["url"] = {"type": "string", "anyOf": [{"maxLength": 0}, {"pattern": r"^https?://"}]}
    return document(
        {
            **serving,
            "model": obj(
                {
                    "name": string("model name on the endpoint path", pattern=MODEL_NAME, maxLength=63),
                    "trackingUri": {
                        "type": "string",
                        "anyOf": [{"maxLength": 0}, {"pattern": r"^(https?|databricks)://"}],
                    },
                },
                ["name"],
            ),
            "deploymentMode": {"enum": DEPLOYMENT_MODES},
            "runtime": obj({"create": boolean(), "name": string(pattern=DNS_LABEL)}, ["create"]),
            "predictor": scaling(),
            "redis": redis(),
            **properties,
        },
        [
            "image",
            "model",
            "deploymentMode",
            "predictor",
            "server",
            "resources",
            "test",
            *(["trafficRouter"] if routed else []),
            *required,
        ],
    ) | {"allOf": [standard_needs_a_replica()]}
