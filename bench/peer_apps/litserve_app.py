"""LitServe serving the benchmark's model (BENCH_MODEL_PATH), with or without its batching
(BENCH_BATCH=1). POST /predict {"input": [row, ...]} -> {"output": [label, ...]}.
Run with the litserve venv's python: python litserve_app.py PORT"""

import os
import sys

import joblib
import litserve as ls
import numpy as np

BATCH = os.environ.get("BENCH_BATCH") == "1"


class Model(ls.LitAPI):
    def setup(self, device: str) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL_PATH"])

    def decode_request(self, request: dict) -> np.ndarray:
        return np.asarray(request["input"], dtype=np.float64)

    def batch(self, inputs: list) -> np.ndarray:
        return np.concatenate(inputs)

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.model.predict(features)

    def unbatch(self, output: np.ndarray) -> list:
        return [[label] for label in output.tolist()]

    def encode_response(self, output: object) -> dict:
        return {"output": output.tolist() if isinstance(output, np.ndarray) else output}


if __name__ == "__main__":
    options = {"max_batch_size": 32, "batch_timeout": 0.001} if BATCH else {}
    server = ls.LitServer(Model(**options), accelerator="cpu")
    server.run(port=int(sys.argv[1]), generate_client_file=False, log_level="warning")
