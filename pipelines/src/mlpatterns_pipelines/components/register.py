from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from mlpatterns_pipelines.components import TRAINING_IMAGE


@dsl.component(base_image=TRAINING_IMAGE, install_kfp_package=False)
def register(
    model: Input[Model],
    test_data: Input[Dataset],
    label: str,
    tracking_uri: str,
    model_name: str,
    metric: str,
    margin: float,
    source: str,
    algorithm: str,
    hyperparameters: dict,
    decision: Output[Metrics],
) -> NamedTuple("Registered", [("version", str), ("promoted", bool)]):
    """Log and register the model in MLflow as `challenger`; move `champion` to it only if it beats
    the current champion on `metric` (scored on this test set) by `margin`. Logs the decision."""
    from collections import namedtuple

    import joblib
    import pandas as pd

    from mlpatterns_pipelines.steps.registry import register as register_model

    outcome = register_model(
        joblib.load(model.path), pd.read_parquet(test_data.path), label, tracking_uri, model_name, metric, margin,
        {"source": source, "algorithm": algorithm, **hyperparameters},
    )  # fmt: skip
    decision.log_metric("promoted", float(outcome.promoted))
    decision.log_metric("challenger_score", outcome.challenger_score)
    if outcome.champion_score is not None:
        decision.log_metric("champion_score", outcome.champion_score)
    decision.metadata["reason"] = outcome.reason
    registered = namedtuple("Registered", ["version", "promoted"])
    return registered(outcome.version, outcome.promoted)
