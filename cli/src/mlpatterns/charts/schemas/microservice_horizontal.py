"""The values schema of charts/microservice-horizontal: models side by side (an InferenceGraph
Ensemble) and the aggregator that combines their answers."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import Schema, integer, number, obj, resources
from mlpatterns.charts.schemas.graph import DEPENDENCY, graph_chart


def schema() -> Schema:
    aggregator = obj(
        {
            "method": {"enum": ["vote", "mean", "weighted-mean", "all"]},
            "minAnswers": integer(1, 20),
            "replicas": obj(
                {"minReplicas": integer(1, 100), "maxReplicas": integer(1, 100)}, ["minReplicas", "maxReplicas"]
            ),
            "resources": resources(),
        },
        ["method", "minAnswers", "replicas", "resources"],
    )
    # Seldon Core 1's COMBINER speaks only Seldon's protocol to the aggregator: no seldon.protocol.
    return graph_chart(
        {"aggregator": aggregator}, ["aggregator"], {"weight": number(0, 1000), "dependency": DEPENDENCY}, False
    )
