"""Score a trained model on the held-out test set."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics

from mlpatterns_pipelines.steps.preprocessing import features

# Every metric here is better when higher, so "beats the champion" means one thing.
HIGHER_IS_BETTER = ("accuracy", "f1", "roc_auc", "precision", "recall", "balanced_accuracy")


def score(model: Any, test: pd.DataFrame, label: str) -> dict[str, float]:
    inputs, truth = features(test, label), test[label]
    predicted = model.predict(inputs)
    binary = truth.nunique() == 2
    average = "binary" if binary else "macro"
    scores = {
        "accuracy": metrics.accuracy_score(truth, predicted),
        "balanced_accuracy": metrics.balanced_accuracy_score(truth, predicted),
        "f1": metrics.f1_score(truth, predicted, average=average),
        "precision": metrics.precision_score(truth, predicted, average=average, zero_division=0),
        "recall": metrics.recall_score(truth, predicted, average=average),
    }
    if hasattr(model, "predict_proba"):
        probabilities = model.predict_proba(inputs)
        scores["roc_auc"] = (
            metrics.roc_auc_score(truth, probabilities[:, 1])
            if binary
            else metrics.roc_auc_score(truth, probabilities, multi_class="ovr")
        )
    return {name: float(value) for name, value in scores.items()}


def confusion(model: Any, test: pd.DataFrame, label: str) -> tuple[list[str], list[list[int]]]:
    classes = sorted(test[label].unique().tolist())
    matrix = metrics.confusion_matrix(test[label], model.predict(features(test, label)), labels=classes)
    return [str(c) for c in classes], np.asarray(matrix).astype(int).tolist()


def roc_curve(model: Any, test: pd.DataFrame, label: str) -> tuple[list[float], list[float], list[float]] | None:
    """False and true positive rates and thresholds, for binary classifiers with probabilities."""
    if test[label].nunique() != 2 or not hasattr(model, "predict_proba"):
        return None
    positive = model.predict_proba(features(test, label))[:, 1]
    fpr, tpr, thresholds = metrics.roc_curve(test[label], positive)
    finite = np.isfinite(thresholds)  # the first threshold is infinite; KFP wants numbers
    return fpr[finite].tolist(), tpr[finite].tolist(), thresholds[finite].tolist()
