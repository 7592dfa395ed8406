"""The values schema of charts/batch: the CronJob, its input and output, and its shards."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import (
    QUANTITY,
    SERVER_URI,
    Schema,
    boolean,
    document,
    image,
    integer,
    model,
    names,
    obj,
    optional_name,
    placement,
    resources,
    service_account,
    string,
)
from mlpatterns.charts.schemas.cron import schedule

# A file or folder (local, s3://, gs://), or an SQLAlchemy URL (dialect[+driver]://...).
DATA_URI = r"^(/|s3://|gs://|file://|[a-z][a-z0-9]*(\+[a-z0-9_]+)?://)"
COLUMNS = {"type": "array", "items": string(minLength=1)}


def schema() -> Schema:
    account = service_account()
    del account["properties"]["secrets"]
    return document(
        {
            **names(),
            "image": image(),
            "model": model(SERVER_URI),
            **schedule(),
            "input": obj({"uri": string(pattern=DATA_URI), "table": string(), "shardKey": string()}, ["uri"]),
            "output": obj({"uri": string(pattern=DATA_URI), "table": string()}, ["uri"]),
            "prediction": obj(
                {
                    "featureColumns": COLUMNS,
                    "keyColumns": COLUMNS,
                    "chunkRows": integer(1, 10_000_000),
                    "maxRejectFraction": {"type": "number", "minimum": 0, "maximum": 1},
                }
            ),
            "shards": obj({"count": integer(1, 1000), "parallelism": integer(1, 1000)}, ["count", "parallelism"]),
            "credentialsSecret": optional_name(),
            "resources": resources(),
            "tmpSize": string(pattern=QUANTITY),
            "serviceAccount": account,
            "networkPolicy": obj({"enabled": boolean()}, ["enabled"]),
            **placement(),
            "test": obj({"rows": integer(1, 10_000_000)}, ["rows"]),
        },
        ["image", "model", "schedule", "input", "output", "shards", "resources"],
    )
