"""The values schema of charts/preprocess-prediction."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import SERVER_URI, Schema, integer, model, resources, string
from mlpatterns.charts.schemas.kserve import KSERVE_URI, MODEL_FORMATS, kserve, scaling


def schema() -> Schema:
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
