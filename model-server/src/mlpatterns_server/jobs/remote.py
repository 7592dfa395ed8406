"""The worker's predictions from another model server (--predictor_url) instead of in process:
the jobs read at once are bound here, joined, and sent as one Open Inference Protocol request;
the answer's outputs are split back by rows and each job's result encoded here, exactly as the
synchronous endpoint encodes it."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlpatterns_server.loading.loaded import Tensors
from mlpatterns_server.protocol.jsonio import dump_json, jsonable
from mlpatterns_server.protocol.tensors import datatype_of


class PredictorFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RemotePredictor:
    def __init__(self, url: str, model: str, timeout_seconds: float) -> None:
        import httpx

        self.client = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout_seconds)
        self.path = f"/v2/models/{model}/infer"

    async def predict(self, inputs: Tensors, outputs: tuple[str, ...]) -> Tensors:
        import httpx

        request = {
            "inputs": [
                {
                    "name": name,
                    "shape": list(array.shape),
                    "datatype": datatype_of(array.dtype),
                    "data": jsonable(array),
                }
                for name, array in inputs.items()
            ],
            "outputs": [{"name": name} for name in outputs],
        }
        try:
            answer = await self.client.post(
                self.path, content=dump_json(request), headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as error:
            raise PredictorFailed(503, f"the predictor at {self.client.base_url} is unreachable: {error}") from None
        if answer.status_code != 200:
            raise PredictorFailed(
                answer.status_code, f"the predictor answered {answer.status_code}: {answer.text[:300]}"
            )
        return {output["name"]: _array(output) for output in answer.json()["outputs"]}

    async def close(self) -> None:
        await self.client.aclose()


def _array(output: dict[str, Any]) -> np.ndarray:
    data = np.asarray(output["data"], dtype=object if output["datatype"] == "BYTES" else None)
    return data.reshape(output["shape"])


def join(parts: list[Tensors]) -> tuple[Tensors, list[int]]:
    """The jobs' inputs as one request, and where each job's rows end."""
    ends = np.cumsum([len(next(iter(part.values()))) for part in parts]).tolist()
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}, ends


def split(outputs: Tensors, ends: list[int]) -> list[Tensors]:
    starts = [0, *ends[:-1]]
    return [
        {name: array[start:end] for name, array in outputs.items()} for start, end in zip(starts, ends, strict=True)
    ]
