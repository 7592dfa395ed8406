"""XGBoost models saved as JSON or UBJSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mlpatterns_server.loading.loaded import LoadedModel, Tensors
from mlpatterns_server.loading.sklearn_format import SklearnModel
from mlpatterns_server.protocol.tensors import TensorSpec


class XGBoostSklearnModel(SklearnModel):
    format: ClassVar[str] = "xgboost"


class BoosterModel(LoadedModel):
    """A bare Booster answers with its objective's raw output (probabilities for classifiers)."""

    format: ClassVar[str] = "xgboost"

    def __init__(self, booster: Any, source: Path) -> None:
        self.booster = booster
        objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
        self.objective = objective
        shape = (-1, -1) if objective.startswith("multi:softprob") else (-1,)
        super().__init__(
            source,
            [TensorSpec("input-0", "FP32", (-1, booster.num_features()))],
            [TensorSpec("predict", "FP32", shape)],
        )

    def predict(self, inputs: Tensors, outputs: Sequence[str]) -> Tensors:
        # inplace_predict is thread-safe and skips building a DMatrix.
        return {"predict": self.booster.inplace_predict(inputs["input-0"])}

    def describe(self) -> str:
        return f"xgboost Booster ({self.objective}) from {self.source.name}"


def load(path: Path, trusted_types: Sequence[str] = ()) -> LoadedModel:
    """The format table's entry point (`trusted_types` concerns .skops files only)."""
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(str(path))
    # Models saved through XGBClassifier/XGBRegressor record it; restore the wrapper so they answer
    # with labels and probabilities as their scikit-learn cousins do.
    wrapper_meta = booster.attr("scikit_learn")
    estimator_type = json.loads(wrapper_meta).get("_estimator_type") if wrapper_meta else None
    wrappers = {"classifier": xgboost.XGBClassifier, "regressor": xgboost.XGBRegressor}
    if estimator_type in wrappers:
        estimator = wrappers[estimator_type]()
        estimator.load_model(str(path))
        return XGBoostSklearnModel(estimator, path)
    return BoosterModel(booster, path)
