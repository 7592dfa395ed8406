"""The values schema of charts/condition-based: routes by request attributes, and a default."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import Schema, obj
from mlpatterns.charts.schemas.graph import condition, router
from mlpatterns.charts.schemas.qa import match, qa_chart, routers, variant_model, variant_name


def schema() -> Schema:
    on = match()
    on["properties"]["body"] = condition()  # an InferenceGraph Switch's (GJSON on the request body)
    route = obj(
        {"name": variant_name(), "match": on | {"minProperties": 1}, "model": variant_model(),
         "use": variant_name()},
        ["name", "match"],
    )  # fmt: skip
    return qa_chart(
        {
            "routes": {"type": "array", "minItems": 1, "maxItems": 20, "items": route},
            "default": obj({"model": variant_model()}, ["model"]),
            **routers("istio", "gateway-api"),
            "router": router(),
        },
        ["routes", "default", "router"],
    )
