"""The values schema of charts/asynchronous: the API and worker Deployments, KEDA, the queue's Redis."""

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
    monitoring,
    names,
    network_policy,
    obj,
    optional_name,
    placement,
    resources,
    server,
    service_account,
    string,
    test_hook,
)
from mlpatterns.charts.schemas.redis import redis

DAY = 86400


def schema() -> Schema:
    server_values = server()
    server_values["properties"] = {
        key: value
        for key, value in server_values["properties"].items()
        if key not in ("workers", "batching", "extraArgs")
    }
    server_values["required"] = ["role"]
    server_values["properties"]["tmpSize"] = string(pattern=QUANTITY)
    account = service_account()
    del account["properties"]["secrets"]  # no storage initializer here: the server fetches the model
    api = obj(
        {
            "replicas": integer(1, 100),
            "service": obj(
                {"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}, "port": integer(1, 65535)},
                ["type", "port"],
            ),
            "resources": resources(),
        },
        ["replicas", "service"],
    )
    worker = obj(
        {
            "replicas": integer(0, 1000),
            "readCount": integer(1, 10000),
            "visibilityTimeoutSeconds": {"type": "number", "exclusiveMinimum": 0, "maximum": DAY},
            "maxAttempts": integer(1, 100),
            "resources": resources(),
        },
        ["readCount", "visibilityTimeoutSeconds", "maxAttempts"],
    )
    keda = obj(
        {
            "enabled": boolean(),
            "minReplicas": integer(0, 1000),
            "maxReplicas": integer(1, 1000),
            "lagCount": integer(1),
            "activationLagCount": integer(0),
            "pollingInterval": integer(1, 3600),
            "cooldownPeriod": integer(0, DAY),
            "address": {"type": "string", "anyOf": [{"maxLength": 0}, {"pattern": r"^[A-Za-z0-9.-]+(:[0-9]+)?$"}]},
            "passwordSecretKey": string(),
        },
        ["enabled"],
    )
    jobs = obj({"resultTtlSeconds": integer(1, 30 * DAY), "idempotencyTtlSeconds": integer(1, 30 * DAY)})
    monitor = monitoring()
    del monitor["properties"]["port"]  # API and workers serve /metrics on their one port
    return document(
        {
            **names(),
            "image": image(),
            "model": model(SERVER_URI),
            "jobs": jobs,
            "api": api,
            "worker": worker,
            "keda": keda,
            "redis": redis(),
            "credentialsSecret": optional_name(),
            "server": server_values,
            "serviceAccount": account,
            "networkPolicy": network_policy(),
            "monitoring": monitor,
            **placement(),
            "test": test_hook(),
        },
        ["image", "model", "api", "worker", "keda", "redis", "server", "test"],
    )
