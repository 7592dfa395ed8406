"""The values schema of charts/shadow-ab: a primary and a shadow, the mirror, the comparison."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import Schema, boolean, integer, number, obj, resources
from mlpatterns.charts.schemas.qa import PERCENT, analysis, backends, qa_chart, routers, variant_model


def schema() -> Schema:
    compare = obj(
        {
            "enabled": boolean(),
            "windowSeconds": integer(1, 3600),
            "task": {"enum": ["auto", "classification", "regression"]},
            "tolerance": number(0, 1e12),
            "resources": resources(),
        },
        ["enabled", "windowSeconds"],
    )
    return qa_chart(
        {
            "primary": obj({"model": variant_model()}, ["model"]),
            "shadow": obj({"model": variant_model()}, ["model"]),
            "mirror": obj({"percent": PERCENT}, ["percent"]),
            **routers("istio", "gateway-api"),
            **backends(),
            "compare": compare,
            "analysis": analysis("minAgreement"),
        },
        ["primary", "shadow", "mirror", "backend", "seldon"],
    )
