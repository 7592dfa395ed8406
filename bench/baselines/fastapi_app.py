"""Baseline (a): the smallest FastAPI service a team would write, an `async def` endpoint calling
the model. Run: uvicorn bench.baselines.fastapi_app:app with BENCH_MODEL_PATH set."""

import os

import joblib
import numpy as np
from fastapi import FastAPI, Request

model = joblib.load(os.environ["BENCH_MODEL_PATH"])
app = FastAPI()


@app.post("/v1/models/{name}:predict")
async def predict(name: str, request: Request) -> dict[str, list[int]]:
    body = await request.json()
    return {"predictions": model.predict(np.asarray(body["instances"])).tolist()}
