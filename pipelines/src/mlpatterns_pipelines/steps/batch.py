"""The whole training loop in one process: what the batch-training chart's CronJob runs on
clusters without Kubeflow Pipelines. The same steps, in the same order, as the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from mlpatterns_pipelines.steps.estimators import train
from mlpatterns_pipelines.steps.preprocessing import fit_preprocessor
from mlpatterns_pipelines.steps.registry import Decision, register
from mlpatterns_pipelines.steps.sources import read_source
from mlpatterns_pipelines.steps.splitting import split
from mlpatterns_pipelines.steps.validation import bundled_expectation, validate


@dataclass
class TrainingRun:
    """The parameters both pipelines and the batch job take (names as in the pipelines)."""

    source: str = "sklearn://breast_cancer"
    label: str = "target"
    expectation: dict[str, Any] = field(default_factory=dict)
    test_size: float = 0.25
    seed: int = 42
    algorithm: str = "hist_gradient_boosting"
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    tracking_uri: str = "sqlite:///mlflow.db"
    model_name: str = "breast-cancer-classifier"
    metric: str = "roc_auc"
    margin: float = 0.0


def expectation_for(source: str, expectation: dict[str, Any]) -> dict[str, Any]:
    """The given expectation, or the one shipped for a bundled dataset."""
    if expectation:
        return expectation
    parsed = urlparse(source)
    if parsed.scheme == "sklearn":
        return bundled_expectation(parsed.netloc or parsed.path.strip("/"))
    raise ValueError(f"source {source!r} needs an expectation to validate against")


def run(params: TrainingRun) -> Decision:
    frame = read_source(params.source)
    validate(frame, expectation_for(params.source, params.expectation))
    train_frame, test_frame = split(frame, params.label, params.test_size, params.seed)
    preprocessor = fit_preprocessor(train_frame, params.label)
    model = train(train_frame, params.label, preprocessor, params.algorithm, params.hyperparameters, params.seed)
    run_params = {"source": params.source, "algorithm": params.algorithm, **params.hyperparameters}
    return register(
        model,
        test_frame,
        params.label,
        params.tracking_uri,
        params.model_name,
        params.metric,
        params.margin,
        run_params,
    )
