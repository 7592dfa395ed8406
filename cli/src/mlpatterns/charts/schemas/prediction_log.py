"""The values schema of charts/prediction-log: the synchronous chart's, with KServe's logger, the
collector and the stream's Redis."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import Schema, integer, model, obj, optional_name, resources, string
from mlpatterns.charts.schemas.kserve import KSERVE_URI, MODEL_FORMATS, kserve
from mlpatterns.charts.schemas.redis import redis


def schema() -> Schema:
    collector = obj(
        {
            "output": string(pattern=r"^(s3://|gs://|/)"),
            "maxFileRows": integer(1, 100_000_000),
            "maxFileAgeSeconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 86400},
            "joinTtlSeconds": integer(1, 86400),
            "credentialsSecret": optional_name(),
            "resources": resources(),
        },
        ["output"],
    )
    extra = {"logger": obj({"mode": {"enum": ["all", "request", "response"]}}, ["mode"]), "collector": collector,
             "redis": redis()}  # fmt: skip
    return kserve(model(KSERVE_URI, {"format": {"enum": MODEL_FORMATS}}), extra)
