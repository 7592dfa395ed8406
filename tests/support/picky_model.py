"""A model that refuses some valid-looking inputs itself (as a real model may, on values outside
what it was trained for) and fails on one, as a broken model would: for the server's 400 and 500."""

from __future__ import annotations

import numpy as np


class Picky:
    n_features_in_ = 4
    classes_ = np.array([0, 1, 2])

    def predict(self, features: np.ndarray) -> np.ndarray:
        if (features[:, 0] == 999).any():
            raise RuntimeError("the model's weights are corrupt")
        if (features[:, 0] < 0).any():
            raise ValueError("sepal length must be positive")
        return np.zeros(len(features), dtype=np.int64)
