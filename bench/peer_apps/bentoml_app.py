"""BentoML serving the benchmark's model (BENCH_MODEL_PATH), with or without adaptive batching
(BENCH_BATCH=1). POST /predict {"features": [row, ...]} -> [label, ...].
Run with the bentoml venv: bentoml serve bentoml_app:Classifier --port PORT"""

import os

import bentoml
import joblib
import numpy as np

BATCH = os.environ.get("BENCH_BATCH") == "1"


@bentoml.service(workers=1)
class Classifier:
    def __init__(self) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL_PATH"])

    @bentoml.api(batchable=BATCH, max_batch_size=32, max_latency_ms=1000)
    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.model.predict(features)
