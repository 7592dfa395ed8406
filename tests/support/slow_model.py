"""A model that takes a while per predict call (SLOW_MODEL_SECONDS, 0.3 by default): long enough
to kill the process that runs it mid-call."""

from __future__ import annotations

import os
import time

import numpy as np


class Slow:
    n_features_in_ = 4
    classes_ = np.array([0, 1, 2])

    def predict(self, features: np.ndarray) -> np.ndarray:
        time.sleep(float(os.environ.get("SLOW_MODEL_SECONDS", "0.3")))
        return np.full(len(features), 1, dtype=np.int64)
