"""Micro-batching: concurrent requests share one predict call and each gets its own answer; a
request the model refuses fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import numpy as np
import pytest

from mlpatterns_server.batching import MicroBatcher
from mlpatterns_server.loading.loaded import Tensors
from mlpatterns_server.metrics import ServerMetrics
from tests.support.model_server import Iris, ServerFactory


def _metric(metrics: str, prefix: str) -> float:
    return next(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(prefix))


def test_concurrent_requests_are_batched_and_answered_one_by_one(start_server: ServerFactory, iris: Iris) -> None:
    server = start_server(
        "--model_dir",
        str(iris.joblib_dir),
        "--enable_batching",
        "true",
        "--max_batch_wait_ms",
        "300",
        "--max_batch_size",
        "64",
    )
    slices = [iris.features[i : i + 1 + i % 3] for i in range(0, 96, 6)]  # 16 requests of 1 to 3 rows

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            v1 = [client.post(server.predict_url, json={"instances": rows.tolist()}) for rows in slices[:8]]
            v2 = [
                client.post(
                    server.infer_url,
                    json={
                        "inputs": [
                            {"name": "x", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}
                        ],
                        "outputs": [{"name": "predict_proba"}],
                    },
                )
                for rows in slices[8:]
            ]
            return await asyncio.gather(*v1, *v2)

    answers = asyncio.run(send_all())
    for rows, answer in zip(slices[:8], answers[:8], strict=True):
        assert answer.json() == {"predictions": iris.estimator.predict(rows).tolist()}
    for rows, answer in zip(slices[8:], answers[8:], strict=True):
        (output,) = answer.json()["outputs"]
        np.testing.assert_allclose(np.reshape(output["data"], output["shape"]), iris.estimator.predict_proba(rows))

    metrics = httpx.get(f"{server.url}/metrics").text
    batches = _metric(metrics, "mlpatterns_batch_size_rows_count")
    assert _metric(metrics, "mlpatterns_batch_size_rows_sum") == sum(len(rows) for rows in slices)
    assert batches < len(slices) / 2, "concurrent requests should share predict calls"


async def _batched(predict: object, requests: Sequence[np.ndarray]) -> list[Tensors | BaseException]:
    batcher = MicroBatcher(predict, 32, 50.0, ServerMetrics("m", "1", "primary").batch_rows)  # type: ignore[arg-type]
    batcher.start()
    try:
        submitted = [batcher.submit({"x": rows}, ("y",), len(rows)) for rows in requests]
        return await asyncio.gather(*submitted, return_exceptions=True)
    finally:
        await batcher.close()


def test_a_refused_request_fails_alone() -> None:
    calls: list[int] = []

    def predict(inputs: Tensors, outputs: Sequence[str]) -> Tensors:
        calls.append(len(inputs["x"]))
        if (inputs["x"] < 0).any():
            raise ValueError("negative features")
        return {"y": inputs["x"].sum(axis=1)}

    requests = [np.ones((2, 3)), -np.ones((1, 3)), np.full((1, 3), 2.0)]
    results = asyncio.run(_batched(predict, requests))
    np.testing.assert_array_equal(results[0]["y"], [3.0, 3.0])  # type: ignore[index]
    assert isinstance(results[1], ValueError)
    np.testing.assert_array_equal(results[2]["y"], [6.0])  # type: ignore[index]
    assert calls[0] == 4, "the first attempt is one joined call"


def test_outputs_without_one_row_per_input_row_fall_back_to_single_calls() -> None:
    def predict(inputs: Tensors, outputs: Sequence[str]) -> Tensors:
        return {"y": np.array([inputs["x"].sum()])}  # one value per call, whatever the rows

    results = asyncio.run(_batched(predict, [np.ones((2, 1)), np.ones((3, 1))]))
    assert [result["y"].tolist() for result in results] == [[2.0], [3.0]]  # type: ignore[index]


@pytest.mark.parametrize("rows", [40, 5])
def test_batches_respect_the_row_limit(rows: int) -> None:
    sizes: list[int] = []

    def predict(inputs: Tensors, outputs: Sequence[str]) -> Tensors:
        sizes.append(len(inputs["x"]))
        return {"y": inputs["x"][:, 0]}

    asyncio.run(_batched(predict, [np.ones((rows, 1))] * 8))
    assert max(sizes) <= max(32, rows)
    assert sum(sizes) == 8 * rows
