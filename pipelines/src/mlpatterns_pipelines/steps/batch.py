"""The whole training loop in one process: what the batch-training chart's CronJob runs on
clusters without Kubeflow Pipelines. The same steps, in the same order, as the pipelines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from mlpatterns_pipelines import local_store
from mlpatterns_pipelines.steps import estimators
from mlpatterns_pipelines.steps.evaluation import HIGHER_IS_BETTER
from mlpatterns_pipelines.steps.preprocessing import fit_preprocessor
from mlpatterns_pipelines.steps.registry import Decision, register
from mlpatterns_pipelines.steps.sources import check_source, read_source
from mlpatterns_pipelines.steps.splitting import split
from mlpatterns_pipelines.steps.tracking import check_reachable
from mlpatterns_pipelines.steps.validation import bundled_expectation, validate


@dataclass
class TrainingRun:
    """The parameters both pipelines and the batch job take (names as in the pipelines)."""

    source: str = "sklearn://iris"
    label: str = "target"
    expectation: dict[str, Any] = field(default_factory=dict)
    test_size: float = 0.25
    seed: int = 42
    algorithm: str = "hist_gradient_boosting"
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    # Empty: MLFLOW_TRACKING_URI, else the kit's local store (mlpatterns_pipelines.local_store).
    tracking_uri: str = ""
    model_name: str = "iris"
    metric: str = "roc_auc"
    margin: float = 0.0

    def check(self) -> None:
        """Refuse parameters that cannot work, before any step runs (ValueError names the parameter)."""
        check_source(self.source)
        if not self.expectation:
            expectation_for(self.source, self.expectation)
        estimators.check(self.algorithm, self.hyperparameters)
        if self.metric not in HIGHER_IS_BETTER:
            raise ValueError(f"metric {self.metric!r} is not one of {', '.join(HIGHER_IS_BETTER)}")
        if not 0 < self.test_size < 1:
            raise ValueError(f"test_size {self.test_size} must be between 0 and 1 (a fraction of the rows)")
        if self.margin < 0:
            raise ValueError(f"margin {self.margin} must be 0 or more")
        if not MODEL_NAME.match(self.model_name):
            raise ValueError(f"model_name {self.model_name!r}: use letters, digits, '.', '_' and '-'")
        if not self.label:
            raise ValueError("label is empty: name the column that holds the class")

    @property
    def registry(self) -> str:
        return self.tracking_uri or local_store.tracking_uri()


# Registered model names that stay valid in models:/ URIs and on the server's endpoint path.
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def expectation_for(source: str, expectation: dict[str, Any]) -> dict[str, Any]:
    """The given expectation, or the one shipped for a bundled dataset."""
    if expectation:
        return expectation
    parsed = urlparse(source)
    if parsed.scheme == "sklearn":
        return bundled_expectation(parsed.netloc or parsed.path.strip("/"))
    raise ValueError(f"source {source!r} needs an expectation to validate against")


def run(params: TrainingRun) -> Decision:
    params.check()
    check_reachable(params.registry)
    frame = read_source(params.source)
    validate(frame, expectation_for(params.source, params.expectation))
    train_frame, test_frame = split(frame, params.label, params.test_size, params.seed)
    preprocessor = fit_preprocessor(train_frame, params.label)
    model = estimators.train(
        train_frame, params.label, preprocessor, params.algorithm, params.hyperparameters, params.seed
    )
    run_params = {"source": params.source, "algorithm": params.algorithm, **params.hyperparameters}
    return register(
        model,
        test_frame,
        params.label,
        params.registry,
        params.model_name,
        params.metric,
        params.margin,
        run_params,
    )
