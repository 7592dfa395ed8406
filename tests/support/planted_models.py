"""A classifier with planted failures, for tests that must see a variant fail or slow down on cue:
rows whose first feature is -1 raise (the server answers 500), rows whose first feature is -2 take
0.6 s; every other row gets the wrapped model's answer. The server unpickles it, so it lives in an
importable module (the test puts the repository on PYTHONPATH)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

FAIL = -1.0
SLOW = -2.0
SLOW_SECONDS = 0.6


class PlantedClassifier:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.classes_ = model.classes_
        self.n_features_in_ = model.n_features_in_

    def predict(self, rows: np.ndarray) -> np.ndarray:
        first = np.asarray(rows)[:, 0]
        if (first == FAIL).any():
            raise RuntimeError("planted failure")
        if (first == SLOW).any():
            time.sleep(SLOW_SECONDS)
        return np.asarray(self.model.predict(rows))
