"""The values schema of charts/web-single."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import SERVER_URI, Schema, boolean, common, document, integer, model, obj


def schema() -> Schema:
    return document(
        {
            **common(),
            "model": model(SERVER_URI),
            "replicas": integer(1, 1000),
            "autoscaling": obj(
                {
                    "enabled": boolean(),
                    "minReplicas": integer(1, 1000),
                    "maxReplicas": integer(1, 1000),
                    "targetCPUUtilizationPercentage": integer(1, 100),
                },
                ["enabled"],
            ),
            "service": obj(
                {"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}, "port": integer(1, 65535)},
                ["type", "port"],
            ),
        },
        ["image", "model", "server", "resources", "test"],
    )
