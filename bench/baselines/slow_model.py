"""A classifier that takes a fixed time per predict call (BENCH_PREDICT_MS, 5 by default): the
stand-in for a model worth caching. Pickled by the cache benchmark; the server imports this module
to unpickle it (PYTHONPATH holds the repository)."""

import os
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class SlowClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(self, milliseconds: float = 5.0) -> None:
        self.milliseconds = milliseconds

    def fit(self, features: np.ndarray, labels: np.ndarray) -> "SlowClassifier":
        self.model_ = LogisticRegression(max_iter=1000).fit(features, labels)
        self.classes_ = self.model_.classes_
        self.n_features_in_ = features.shape[1]
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        time.sleep(float(os.environ.get("BENCH_PREDICT_MS", self.milliseconds)) / 1000)
        return np.asarray(self.model_.predict(features))
