"""The prediction cache against a real redis-server: the data plane in-process for what the cache
decides (keys, values, single flight, failing open), one server process for traffic through a
Redis outage."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import orjson
import pytest

from mlpatterns_server.cache import store
from mlpatterns_server.cache.values import decode_outputs, encode_outputs
from mlpatterns_server.dataplane.plane import Answer, DataPlane
from mlpatterns_server.dataplane.stages import Caching, Inference, LocalModel
from mlpatterns_server.loading.loaded import Tensors
from mlpatterns_server.metrics import ServerMetrics
from mlpatterns_server.model import ServedModel
from mlpatterns_server.protocol.codecs import V1, V2
from mlpatterns_server.settings import ServerSettings
from tests.support.metrics import sample
from tests.support.model_server import Iris, ServerFactory
from tests.support.processes import ManagedProcess, free_port
from tests.support.services import start_redis

T = TypeVar("T")


def plane(model_dir: Path, own_redis_url: str, version: str = "7", **overrides: Any) -> DataPlane:
    given = {"model_name": "iris", "model_dir": str(model_dir), "model_version": version}
    settings = ServerSettings.model_validate({**given, "cache_redis_url": own_redis_url, **overrides})
    return DataPlane(settings, ServedModel.from_settings(settings), ServerMetrics("iris", version, "primary"))


def counted(plane: DataPlane, result: str) -> float:
    value = plane.metrics.registry.get_sample_value(
        "mlpatterns_cache_requests_total", {"model": "iris", "result": result}
    )
    return value or 0.0


def served(plane: DataPlane, work: Callable[[], Awaitable[T]], connected: bool = True) -> T:
    async def main() -> T:
        plane.start()
        assert isinstance(plane.stage, Caching)
        assert await plane.stage.cache.connected() is connected
        try:
            return await work()
        finally:
            await plane.close()

    return asyncio.run(main())


def v1(plane: DataPlane, document: bytes, request_id: str = "r") -> Awaitable[Answer]:
    async def body() -> bytes:
        return document

    return plane.handle(V1, body, "iris", request_id)


def test_a_hit_is_the_models_answer_byte_for_byte_whatever_the_spelling(iris: Iris, own_redis_url: str) -> None:
    cached = plane(iris.joblib_dir, own_redis_url)
    spellings = [b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}', b'{"instances":[[5.1,3.5,1.4,2e-1]]}',
                 b'{"instances": [[5.10, 35e-1, 1.4, 0.20]]}']  # fmt: skip

    async def traffic() -> list[Answer]:
        first = await v1(cached, spellings[0])
        await asyncio.sleep(0.05)  # the write is in the background
        return [first] + [await v1(cached, spelling) for spelling in spellings]

    answers = served(cached, traffic)
    assert {answer.body for answer in answers} == {answers[0].body}
    assert orjson.loads(answers[0].body) == {"predictions": iris.estimator.predict(iris.features[:1]).tolist()}
    assert counted(cached, "miss") == 1
    assert counted(cached, "hit") == 3


def test_rows_as_objects_in_another_key_order_hit(column_model: Path, own_redis_url: str) -> None:
    cached = plane(column_model, own_redis_url)
    row = {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}
    shuffled = dict(reversed(list(row.items())))

    async def traffic() -> tuple[Answer, Answer, Answer]:
        first = await v1(cached, orjson.dumps({"instances": [row]}))
        await asyncio.sleep(0.05)
        by_position = orjson.dumps({"instances": [list(row.values())]})
        return first, await v1(cached, orjson.dumps({"instances": [shuffled]})), await v1(cached, by_position)

    first, reordered, positional = served(cached, traffic)
    assert first.body == reordered.body == positional.body
    assert counted(cached, "hit") == 2


def test_a_new_model_version_never_answers_from_the_old_versions_entries(iris: Iris, own_redis_url: str) -> None:
    request = b'{"instances": [[5.9, 3.0, 5.1, 1.8]]}'
    old = plane(iris.joblib_dir, own_redis_url, version="1")
    served(old, lambda: v1(old, request))
    new = plane(iris.joblib_dir, own_redis_url, version="2")
    served(new, lambda: v1(new, request))
    assert counted(new, "miss") == 1
    assert counted(new, "hit") == 0


def test_v2_hits_keep_the_requests_own_id(iris: Iris, own_redis_url: str) -> None:
    cached = plane(iris.joblib_dir, own_redis_url)

    def request(request_id: str) -> bytes:
        tensor = {"name": "x", "shape": [2, 4], "datatype": "FP64", "data": iris.features[:2].tolist()}
        return orjson.dumps({"id": request_id, "inputs": [tensor]})

    async def traffic() -> list[Any]:
        answers = []
        for request_id in ("first", "second"):
            answer = await cached.handle(V2, functools.partial(_bytes, request(request_id)), "iris", request_id)
            answers.append(orjson.loads(answer.body))
            await asyncio.sleep(0.05)
        return answers

    first, second = served(cached, traffic)
    assert counted(cached, "hit") == 1
    assert (first["id"], second["id"]) == ("first", "second")
    assert first["outputs"] == second["outputs"]


async def _bytes(document: bytes) -> bytes:
    return document


class SlowCountingModel(LocalModel):
    def __init__(self, model: ServedModel) -> None:
        super().__init__(model)
        self.calls = 0

    async def run(self, inference: Inference) -> Tensors:
        self.calls += 1
        await asyncio.sleep(0.2)
        return await super().run(inference)


def test_a_burst_of_one_request_is_predicted_once(iris: Iris, own_redis_url: str) -> None:
    cached = plane(iris.joblib_dir, own_redis_url)
    assert isinstance(cached.stage, Caching)
    slow = SlowCountingModel(cached.model)
    cached.stage.inner = slow

    async def burst() -> list[Answer]:
        return list(await asyncio.gather(*(v1(cached, b'{"instances": [[6, 2.2, 5, 1.5]]}') for _ in range(50))))

    answers = served(cached, burst)
    assert {answer.status for answer in answers} == {200}
    assert len({answer.body for answer in answers}) == 1
    assert slow.calls == 1


def test_redis_down_means_predicting_as_usual_and_caching_resumes_when_it_is_back(
    iris: Iris, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "PAUSE_SECONDS", 0.05)
    port = free_port()
    cached = plane(iris.joblib_dir, f"redis://127.0.0.1:{port}/0")
    request = b'{"instances": [[5.0, 3.4, 1.5, 0.2]]}'
    started: list[ManagedProcess] = []

    async def outage_then_recovery() -> list[int]:
        statuses = [(await v1(cached, request)).status for _ in range(5)]
        errors_in_outage = counted(cached, "error")
        started.append(start_redis(tmp_path, port)[0])
        # Until two hits: on a loaded machine a lookup right after the restart may still time out
        # (a few ms bound) and count as an error, which is the fail-open path again, not a failure.
        deadline = time.monotonic() + 20
        while counted(cached, "hit") < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # past the pause
            statuses.append((await v1(cached, request)).status)
        assert errors_in_outage >= 1
        return statuses

    try:
        statuses = served(cached, outage_then_recovery, connected=False)
    finally:
        for process in started:
            process.stop()
    assert set(statuses) == {200}
    assert counted(cached, "miss") >= 1
    assert counted(cached, "hit") == 2, "caching resumed with no restart"


@pytest.mark.parametrize(
    "outputs",
    [
        {"label": np.array([0, 2, 1])},
        {
            "p": np.arange(6, dtype=np.float32).reshape(3, 2),
            "label": np.array(["setosa", "virginica", ""], dtype=object),
        },
        {"empty": np.zeros((0, 3))},
    ],
)
def test_cached_values_decode_to_the_same_arrays(outputs: Tensors) -> None:
    value = encode_outputs(outputs)
    assert value is not None
    decoded = decode_outputs(value)
    assert list(decoded) == list(outputs)
    for name, array in outputs.items():
        assert decoded[name].dtype == array.dtype
        np.testing.assert_array_equal(decoded[name], array)


def test_objects_that_are_not_strings_are_not_cached() -> None:
    assert encode_outputs({"x": np.array([{"a": 1}], dtype=object)}) is None


def test_traffic_through_a_redis_restart_fails_no_request(
    start_server: ServerFactory, iris: Iris, tmp_path: Path
) -> None:
    port = free_port()
    redis_process = start_redis(tmp_path, port)[0]
    server = start_server("--model_dir", str(iris.joblib_dir), "--cache_redis_url", f"redis://127.0.0.1:{port}/0")
    statuses: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                row = iris.features[len(statuses) % 5].tolist()
                statuses.append(client.post(server.predict_url, json={"instances": [row]}).status_code)

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        _wait_for(lambda: _cache_count(server.url, "hit") > 0)
        redis_process.stop()
        _wait_for(lambda: _cache_count(server.url, "error") > 0)
        redis_process = start_redis(tmp_path, port)[0]
        hits = _cache_count(server.url, "hit")
        _wait_for(lambda: _cache_count(server.url, "hit") > hits + 10)
    finally:
        stop.set()
        sender.join()
        redis_process.stop()
    assert len(statuses) > 50
    assert set(statuses) == {200}


def _cache_count(url: str, result: str) -> float:
    return sample(f"{url}/metrics", "mlpatterns_cache_requests_total", model="iris", result=result)


def _wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)
