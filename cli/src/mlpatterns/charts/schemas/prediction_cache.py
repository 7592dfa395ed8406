"""The values schema of charts/prediction-cache: the synchronous chart's, with the cache and its Redis."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import Schema, integer, model, obj, string
from mlpatterns.charts.schemas.kserve import KSERVE_URI, MODEL_FORMATS, kserve
from mlpatterns.charts.schemas.redis import redis

# redis-server's memory units: 256mb, 1gb, 100000000.
MEMORY = r"^[0-9]+(b|k|kb|m|mb|g|gb)?$"


def schema() -> Schema:
    cache = obj(
        {
            "ttlSeconds": integer(1, 30 * 86400),
            "maxValueBytes": integer(64, 512 * 1024 * 1024),
            "timeoutMs": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
        },
        ["ttlSeconds", "maxValueBytes", "timeoutMs"],
    )
    extra = {"cache": cache, "redis": redis({"maxMemory": string(pattern=MEMORY)})}
    return kserve(model(KSERVE_URI, {"format": {"enum": MODEL_FORMATS}}), extra)
