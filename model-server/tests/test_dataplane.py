"""The data plane in-process, with no HTTP: codecs, stages and hooks as every front-end sees them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import orjson
import pytest

from mlpatterns_server.dataplane.plane import Answer, DataPlane
from mlpatterns_server.dataplane.stages import Batching, Inference, LocalModel
from mlpatterns_server.loading.loaded import Tensors
from mlpatterns_server.metrics import ServerMetrics
from mlpatterns_server.model import ServedModel
from mlpatterns_server.protocol.codecs import V1, V2
from mlpatterns_server.settings import ServerSettings
from tests.support.model_server import Iris

T = TypeVar("T")


def plane_for(iris: Iris, tmp_path: Path, **overrides: object) -> DataPlane:
    given = {"model_name": "iris", "model_dir": str(iris.joblib_dir), "model_version": "7"}
    settings = ServerSettings.model_validate({**given, "prediction_log_spool": False, **overrides})
    model = ServedModel.from_settings(settings)
    return DataPlane(settings, model, ServerMetrics("iris", "7", "primary"))


def body_of(document: object) -> Callable[[], Awaitable[bytes]]:
    async def read() -> bytes:
        return orjson.dumps(document)

    return read


class Recorded:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Tensors | None, Tensors | None, int]] = []

    def answered(
        self, request_id: str, inputs: Tensors | None, outputs: Tensors | None, answer: Answer, seconds: float
    ) -> None:
        self.calls.append((request_id, inputs, outputs, answer.status))


def run(plane: DataPlane, coroutine: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        plane.start()
        try:
            return await coroutine()
        finally:
            await plane.close()

    return asyncio.run(main())


def test_v1_and_v2_answer_what_the_model_predicts_and_hooks_see_each_prediction(iris: Iris, tmp_path: Path) -> None:
    plane = plane_for(iris, tmp_path)
    hook = Recorded()
    plane.hooks.append(hook)
    rows = iris.features[:3].tolist()
    v2_request = {"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP64", "data": rows}]}

    async def both() -> tuple[Answer, Answer]:
        first = await plane.handle(V1, body_of({"instances": rows}), "iris", "r1")
        second = await plane.handle(V2, body_of(v2_request), "iris", "r2")
        return first, second

    v1_answer, v2_answer = run(plane, both)
    expected = iris.estimator.predict(iris.features[:3]).tolist()
    assert v1_answer.status == 200
    assert orjson.loads(v1_answer.body) == {"predictions": expected}
    v2_document = orjson.loads(v2_answer.body)
    assert v2_document["model_version"] == "7"
    assert v2_document["outputs"][0]["data"] == expected
    assert [call[0] for call in hook.calls] == ["r1", "r2"]
    _request_id, inputs, outputs, status = hook.calls[0]
    assert status == 200
    assert inputs is not None
    assert outputs is not None
    np.testing.assert_array_equal(next(iter(outputs.values())), expected)


def test_client_mistakes_are_4xx_answers_and_hooks_see_no_prediction(iris: Iris, tmp_path: Path) -> None:
    plane = plane_for(iris, tmp_path)
    hook = Recorded()
    plane.hooks.append(hook)

    async def mistakes() -> list[Answer]:
        return [
            await plane.handle(V1, body_of({"instances": [[1, 2]]}), "iris", "a"),
            await plane.handle(V1, body_of({"rows": []}), "iris", "b"),
            await plane.handle(V1, body_of({"instances": [[1, 2, 3, 4]]}), "other", "c"),
            await plane.handle(V2, body_of({"inputs": [], "outputs": [{"name": "nope"}]}), "iris", "d"),
        ]

    answers = run(plane, mistakes)
    assert isinstance(answers, list)
    assert [answer.status for answer in answers] == [400, 400, 404, 400]
    assert "'other' is not served here" in orjson.loads(answers[2].body)["error"]
    assert all(inputs is None and outputs is None for _, inputs, outputs, _ in hook.calls)


def test_batching_stage_answers_each_request_its_own_rows(iris: Iris, tmp_path: Path) -> None:
    plane = plane_for(iris, tmp_path, enable_batching=True, max_batch_size=8)
    assert isinstance(plane.stage, Batching)
    rows = iris.features[::10]

    async def concurrent() -> list[Answer]:
        requests = [
            plane.handle(V1, body_of({"instances": [row.tolist()]}), "iris", str(i)) for i, row in enumerate(rows)
        ]
        return list(await asyncio.gather(*requests))

    answers = run(plane, concurrent)
    assert isinstance(answers, list)
    got = [orjson.loads(answer.body)["predictions"][0] for answer in answers]
    assert got == iris.estimator.predict(rows).tolist()


def test_a_fault_of_the_server_is_a_500_naming_the_request(iris: Iris, tmp_path: Path) -> None:
    plane = plane_for(iris, tmp_path)

    class Broken(LocalModel):
        async def run(self, inference: Inference) -> Tensors:
            raise RuntimeError("disk on fire")

    plane.stage = Broken(plane.model)
    answer = run(plane, lambda: plane.handle(V1, body_of({"instances": [[1, 2, 3, 4]]}), "iris", "r9"))
    assert isinstance(answer, Answer)
    assert answer.status == 500
    assert "request r9" in orjson.loads(answer.body)["error"]
    assert "fire" not in answer.body.decode()


@pytest.mark.parametrize("codec", [V1, V2])
def test_codecs_are_picklable_for_the_decoding_helper(codec: object) -> None:
    import pickle

    assert pickle.loads(pickle.dumps(codec)).__class__ is codec.__class__


def _openmp_threads() -> int:
    from threadpoolctl import threadpool_info

    return max(int(pool["num_threads"]) for pool in threadpool_info() if pool["user_api"] == "openmp")


def test_predictions_on_the_event_loop_get_one_openmp_thread_and_large_ones_in_a_thread_the_default(
    iris: Iris, tmp_path: Path
) -> None:
    seen: list[int] = []
    fresh = threading.Thread(target=lambda: seen.append(_openmp_threads()))
    fresh.start()
    fresh.join()
    plane = plane_for(iris, tmp_path)  # --loop_model_threads 1, the default

    async def both() -> tuple[int, int]:
        return _openmp_threads(), await asyncio.to_thread(_openmp_threads)

    on_loop, in_thread = run(plane, both)
    assert on_loop == 1
    assert in_thread == seen[0]
