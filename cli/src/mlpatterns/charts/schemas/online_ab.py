"""The values schema of charts/online-ab: weighted variants, the override header, sticky users."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import DNS_LABEL, Schema, integer, obj, string
from mlpatterns.charts.schemas.graph import router
from mlpatterns.charts.schemas.qa import HEADER, analysis, backends, qa_chart, routers, variant_model, variant_name

OPTIONAL_HEADER = {"type": "string", "anyOf": [{"maxLength": 0}, {"pattern": HEADER}]}


def schema() -> Schema:
    variant = obj({"name": variant_name(), "weight": integer(0, 100), "model": variant_model()},
                  ["name", "weight", "model"])  # fmt: skip
    return qa_chart(
        {
            "variants": {"type": "array", "minItems": 2, "maxItems": 10, "items": variant},
            "override": obj({"header": OPTIONAL_HEADER}, ["header"]),
            "sticky": obj(
                {
                    "header": OPTIONAL_HEADER,
                    "envoyFilterNamespaces": {"type": "array", "items": string(pattern=DNS_LABEL)},
                },
                ["header"],
            ),
            **routers("istio", "gateway-api", "kserve", "inferencegraph"),
            **backends(),
            "router": router(),
            "analysis": analysis("maxErrorRatio"),
        },
        ["variants", "override", "sticky", "router", "backend", "seldon"],
    )
