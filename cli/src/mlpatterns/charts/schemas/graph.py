"""What the InferenceGraph charts share (microservice-vertical, microservice-horizontal): their
models, each an InferenceService of its own, the router's pods, and the fields of a step."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import Schema, integer, obj, resources, string
from mlpatterns.charts.schemas.qa import backends, qa_chart, variant_model, variant_name

DEPENDENCY = {"enum": ["Hard", "Soft"]}


def models(minimum: int, extra: dict[str, Schema] | None = None) -> Schema:
    fields = {"name": variant_name(), "model": variant_model(), **(extra or {})}
    model = obj(fields, ["name", "model", *(extra or {})])
    return {"type": "array", "minItems": minimum, "maxItems": 20, "items": model}


def router() -> Schema:
    return obj(
        {
            "minReplicas": integer(1, 100),
            "maxReplicas": integer(1, 100),
            "resources": resources(),
            "stepTimeoutSeconds": integer(0, 3600),
        },
        ["minReplicas", "maxReplicas", "resources"],
    )


def condition() -> Schema:
    """A GJSON path, as KServe's router evaluates it (it holds when it exists)."""
    return string(minLength=1)


def graph_chart(properties: dict[str, Schema], required: list[str], model_fields: dict[str, Schema] | None = None,
                protocols: bool = True) -> Schema:  # fmt: skip
    return qa_chart({"models": models(2, model_fields), "router": router(), **backends(protocols), **properties},
                    ["models", "router", "backend", "seldon", *required], routed=False)  # fmt: skip
