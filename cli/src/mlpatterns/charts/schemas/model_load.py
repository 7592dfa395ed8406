"""The values schema of charts/model-load."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import Schema, boolean, model, obj, optional_name, string
from mlpatterns.charts.schemas.kserve import KSERVE_URI, MODEL_FORMATS, kserve


def schema() -> Schema:
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
