"""The values schema of charts/synchronous."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import Schema, model
from mlpatterns.charts.schemas.kserve import KSERVE_URI, MODEL_FORMATS, kserve


def schema() -> Schema:
    return kserve(model(KSERVE_URI, {"format": {"enum": MODEL_FORMATS}}))
