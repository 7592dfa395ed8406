"""The values schema of charts/batch-training."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import (
    QUANTITY,
    Schema,
    boolean,
    common,
    document,
    integer,
    obj,
    optional_name,
    string,
)
from mlpatterns.charts.schemas.cron import schedule


def schema() -> Schema:
    """The CronJob chart: no model server, so no server/model/test sections."""
    # Training pods serve nothing: no server, test hook, mesh or metrics, and no one may connect.
    unused = ("server", "test", "credentialsSecret", "mesh", "monitoring")
    properties = {key: value for key, value in common().items() if key not in unused}
    properties["networkPolicy"] = obj({"enabled": boolean()}, ["enabled"])
    return document(
        {
            **properties,
            **schedule(),
            "training": obj(
                {
                    "source": string(pattern=r"^(sklearn://|s3://|https?://|file://|/)"),
                    "label": string(minLength=1),
                    "expectation": {"type": "object"},
                    "testSize": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                    "seed": integer(0),
                    "algorithm": {
                        "enum": ["hist_gradient_boosting", "random_forest", "logistic_regression", "xgboost"]
                    },
                    "hyperparameters": {"type": "object"},
                    "modelName": string(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
                    "metric": {"enum": ["accuracy", "balanced_accuracy", "f1", "precision", "recall", "roc_auc"]},
                    "margin": {"type": "number", "minimum": 0},
                },
                ["source", "label", "algorithm", "modelName", "metric"],
            ),
            "mlflow": obj(
                {"trackingUri": string(pattern=r"^(https?|databricks)://"), "credentialsSecret": optional_name()},
                ["trackingUri"],
            ),
            "storage": obj({"credentialsSecret": optional_name()}),
            "tmpSize": string(pattern=QUANTITY),
        },
        ["image", "schedule", "training", "mlflow", "resources"],
    )
