"""Train a classifier on the preprocessed training set. The algorithm and its hyperparameters are
pipeline parameters; the result is one scikit-learn Pipeline: fitted preprocessing, then model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from mlpatterns_pipelines.steps.preprocessing import features


def _factories() -> dict[str, Callable[..., Any]]:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from xgboost import XGBClassifier

    return {
        "hist_gradient_boosting": HistGradientBoostingClassifier,
        "random_forest": RandomForestClassifier,
        "logistic_regression": LogisticRegression,
        "xgboost": XGBClassifier,
    }


ALGORITHMS = ("hist_gradient_boosting", "random_forest", "logistic_regression", "xgboost")


def _hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    # Pipeline parameters travel as JSON numbers (protobuf Struct): 100 arrives as 100.0.
    return {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in raw.items()}


def check(algorithm: str, hyperparameters: dict[str, Any]) -> None:
    """Refuse an unknown algorithm or hyperparameter before anything is read or trained."""
    factories = _factories()
    if algorithm not in factories:
        raise ValueError(f"algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
    valid = factories[algorithm]().get_params()
    unknown = sorted(set(hyperparameters) - set(valid))
    if unknown:
        raise ValueError(f"{algorithm} has no hyperparameter {', '.join(unknown)}; it takes {', '.join(sorted(valid))}")


def build(algorithm: str, hyperparameters: dict[str, Any], seed: int) -> Any:
    check(algorithm, hyperparameters)
    factory = _factories()[algorithm]
    params = _hyperparameters(hyperparameters)
    if "random_state" in factory().get_params() and "random_state" not in params:
        params["random_state"] = seed
    return factory(**params)


def train(
    train_frame: pd.DataFrame,
    label: str,
    preprocessor: ColumnTransformer,
    algorithm: str,
    hyperparameters: dict[str, Any],
    seed: int,
) -> Pipeline:
    estimator = build(algorithm, hyperparameters, seed)
    estimator.fit(preprocessor.transform(features(train_frame, label)), train_frame[label])
    # The preprocessor is already fitted on the same rows; the pipeline only chains the two.
    return Pipeline([("preprocess", preprocessor), ("model", estimator)])
