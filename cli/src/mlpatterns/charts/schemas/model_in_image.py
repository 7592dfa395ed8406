"""The values schema of charts/model-in-image."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import Schema, model
from mlpatterns.charts.schemas.kserve import kserve


def schema() -> Schema:
    schema = kserve(model(None))
    # The model is in the image: no runtime to pick, no registry to ask.
    del schema["properties"]["runtime"]
    del schema["properties"]["model"]["properties"]["trackingUri"]
    return schema
