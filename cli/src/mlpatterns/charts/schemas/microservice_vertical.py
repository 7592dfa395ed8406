"""The values schema of charts/microservice-vertical: models in a chain (an InferenceGraph Sequence)."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import Schema, boolean, obj
from mlpatterns.charts.schemas.graph import DEPENDENCY, condition, graph_chart
from mlpatterns.charts.schemas.qa import variant_name


def schema() -> Schema:
    step = obj(
        {"model": variant_name(), "data": {"enum": ["$request", "$response"]},
         "mapPredictionsToInstances": boolean(), "condition": condition(), "dependency": DEPENDENCY},
        ["model"],
    )  # fmt: skip
    return graph_chart({"sequence": {"type": "array", "minItems": 2, "maxItems": 20, "items": step}}, ["sequence"])
