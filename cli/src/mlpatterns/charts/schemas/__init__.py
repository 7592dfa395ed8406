"""Every pattern chart's values.schema.json: one module per chart, on shared pieces (core.py,
kserve.py). `mlpatterns charts sync` writes them; the tests fail when a chart's committed schema
differs."""

from __future__ import annotations

from collections.abc import Callable

from mlpatterns.charts.schemas import (
    asynchronous,
    batch,
    batch_training,
    condition_based,
    microservice_horizontal,
    microservice_vertical,
    model_in_image,
    model_load,
    online_ab,
    prediction_cache,
    prediction_log,
    preprocess_prediction,
    shadow_ab,
    synchronous,
    web_single,
)
from mlpatterns.charts.schemas.core import Schema

CHART_SCHEMAS: dict[str, Callable[[], Schema]] = {
    "web-single": web_single.schema,
    "synchronous": synchronous.schema,
    "model-load": model_load.schema,
    "model-in-image": model_in_image.schema,
    "preprocess-prediction": preprocess_prediction.schema,
    "prediction-cache": prediction_cache.schema,
    "prediction-log": prediction_log.schema,
    "asynchronous": asynchronous.schema,
    "batch": batch.schema,
    "batch-training": batch_training.schema,
    "shadow-ab": shadow_ab.schema,
    "online-ab": online_ab.schema,
    "condition-based": condition_based.schema,
    "microservice-vertical": microservice_vertical.schema,
    "microservice-horizontal": microservice_horizontal.schema,
}
