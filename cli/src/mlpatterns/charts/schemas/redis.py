"""The `redis` values of the patterns with state: the release's own Redis, or one given by URL or
by a Secret holding the URL."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import QUANTITY, Schema, boolean, image, obj, optional_name, resources, string

REDIS_URL = r"^rediss?://"


def redis(extra: dict[str, Schema] | None = None) -> Schema:
    return obj(
        {
            "create": boolean(),
            "url": {"type": "string", "anyOf": [{"maxLength": 0}, {"pattern": REDIS_URL}]},
            "existingSecret": optional_name(),
            "secretKey": string(minLength=1),
            "image": image(),
            "persistence": obj(
                {"enabled": boolean(), "size": string(pattern=QUANTITY), "storageClass": string()},
                ["enabled", "size"],
            ),
            "resources": resources(),
            **(extra or {}),
        },
        ["create", "secretKey", "image", "persistence"],
    )
