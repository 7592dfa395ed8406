"""Baseline (b): stock kserve.ModelServer serving a trivial kserve.Model (no gRPC, one worker)."""

import os
import sys

import joblib
import kserve
import numpy as np


class TrivialModel(kserve.Model):  # type: ignore[misc]
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.model = joblib.load(os.environ["BENCH_MODEL_PATH"])
        self.ready = True

    def predict(self, payload: dict, headers: dict | None = None, response_headers: dict | None = None) -> dict:  # type: ignore[type-arg]
        return {"predictions": self.model.predict(np.asarray(payload["instances"])).tolist()}


if __name__ == "__main__":
    port = int(sys.argv[1])
    kserve.ModelServer(http_port=port, enable_grpc=False, workers=1).start([TrivialModel("model")])
