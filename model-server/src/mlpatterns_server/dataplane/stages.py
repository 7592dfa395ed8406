"""Stages: what answers a bound request. They share one small interface and are built from the
settings: the model in this process, the micro-batcher in front of it, or (transformer mode) the
model as a preprocessor in front of the predictor, whose answer is relayed as it is; and the
prediction cache in front of either of the first two."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mlpatterns_server.batching import MicroBatcher
from mlpatterns_server.cache.keys import cache_key
from mlpatterns_server.cache.store import CacheUnavailable, RedisCache
from mlpatterns_server.cache.values import decode_outputs, encode_outputs
from mlpatterns_server.forwarding import PredictorClient
from mlpatterns_server.loading.loaded import Tensors
from mlpatterns_server.metrics import ServerMetrics
from mlpatterns_server.model import ServedModel
from mlpatterns_server.settings import ServerSettings


@dataclass
class Inference:
    """One request on its way through the stages: its bound inputs and the outputs it wants."""

    request_id: str
    inputs: Tensors
    rows: int
    outputs: tuple[str, ...]
    # Large requests are predicted off the event loop (offload.py decided it for the decoding).
    large: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)


# The headers of another server's answer that say which model answered (app.py sets them).
IDENTITY_HEADERS = ("x-mlpatterns-role", "x-mlpatterns-model-version")


@dataclass(frozen=True)
class Relayed:
    """Another server's answer (the predictor's, in transformer mode), passed on as it is."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


class Stage(Protocol):
    async def run(self, inference: Inference) -> Tensors | Relayed: ...

    def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalModel:
    """The model in this process; a large request is predicted in a thread, off the event loop."""

    def __init__(self, model: ServedModel) -> None:
        self.model = model

    async def run(self, inference: Inference) -> Tensors:
        if inference.large:
            return await asyncio.to_thread(self.model.infer, inference.inputs, inference.outputs)
        return self.model.infer(inference.inputs, inference.outputs)

    def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class Batching:
    """Concurrent requests joined into one predict call (batching.py); a large request is too big
    to gain anything from company and goes to the model alone."""

    def __init__(self, model: LocalModel, batcher: MicroBatcher) -> None:
        self.model = model
        self.batcher = batcher

    async def run(self, inference: Inference) -> Tensors:
        if inference.large:
            return await self.model.run(inference)
        return await self.batcher.submit(inference.inputs, inference.outputs, inference.rows)

    def start(self) -> None:
        self.batcher.start()

    async def close(self) -> None:
        await self.batcher.close()


class Forwarding:
    """Transformer mode: preprocess here, then the predictor answers; its answer, and its status,
    is the answer. The predictor logs the prediction, under the same x-request-id."""

    def __init__(self, model: LocalModel, predictor: PredictorClient) -> None:
        self.model = model
        self.predictor = predictor

    async def run(self, inference: Inference) -> Relayed:
        features_name = self.model.model.transform_output
        transformed = await self.model.run(
            Inference(inference.request_id, inference.inputs, inference.rows, (features_name,), inference.large)
        )
        headers = {**inference.headers, "x-request-id": inference.request_id}
        answer = await self.predictor.predict(transformed[features_name], headers)
        identity = {name: answer.headers[name] for name in IDENTITY_HEADERS if name in answer.headers}
        return Relayed(
            answer.status_code, answer.content, answer.headers.get("content-type", "application/json"), identity
        )

    def start(self) -> None:
        return None

    async def close(self) -> None:
        await self.predictor.close()


class Caching:
    """Answers kept in Redis (cache/): a hit is the model's own answer, decoded from the stored
    arrays; concurrent identical misses are predicted once (single flight), the others wait for
    that answer. Redis that is down or slow only means predicting as usual (counted as errors)."""

    def __init__(self, inner: LocalModel | Batching, cache: RedisCache, model: ServedModel, metrics: ServerMetrics):
        self.inner = inner
        self.cache = cache
        self.model = model
        counter = metrics.cache_requests
        self.count = {result: counter.labels(model=model.name, result=result) for result in ("hit", "miss", "error")}
        self.flights: dict[str, asyncio.Future[Tensors]] = {}

    async def run(self, inference: Inference) -> Tensors:
        key = cache_key(self.model.name, self.model.version, inference.inputs, inference.outputs)
        if key is None:
            return await self.inner.run(inference)
        in_flight = self.flights.get(key)
        if in_flight is not None:  # the same request is being answered now: its answer is ours
            self.count["hit"].inc()
            return await asyncio.shield(in_flight)
        # The first of identical requests asks Redis and, on a miss, the model; the others wait for
        # it, whether Redis answers or not (a stampede hurts most when Redis is down).
        flight: asyncio.Future[Tensors] = asyncio.get_running_loop().create_future()
        flight.add_done_callback(_retrieve)
        self.flights[key] = flight
        try:
            outputs = await self._lookup_or_predict(key, inference)
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except BaseException as error:
            flight.set_exception(error)
            raise
        finally:
            del self.flights[key]
        flight.set_result(outputs)
        return outputs

    async def _lookup_or_predict(self, key: str, inference: Inference) -> Tensors:
        try:
            value = await self.cache.get(key)
        except CacheUnavailable:
            self.count["error"].inc()
            return await self.inner.run(inference)
        if value is not None:
            try:
                outputs = decode_outputs(value)
            except ValueError:
                pass  # not a value of ours (another writer): predict and overwrite it
            else:
                self.count["hit"].inc()
                return outputs
        self.count["miss"].inc()
        outputs = await self.inner.run(inference)
        value = encode_outputs(outputs)
        if value is not None:
            self.cache.put(key, value)
        return outputs

    def start(self) -> None:
        self.inner.start()
        self.cache.start()

    async def close(self) -> None:
        await self.inner.close()
        await self.cache.close()


def _retrieve(flight: asyncio.Future[Tensors]) -> None:
    # A failed flight nobody else waited for must not be reported as an unretrieved exception.
    if not flight.cancelled():
        flight.exception()


def build_stage(settings: ServerSettings, model: ServedModel, metrics: ServerMetrics) -> Stage:
    local = LocalModel(model)
    if settings.predictor_host:
        return Forwarding(local, PredictorClient(settings))
    stage: LocalModel | Batching = local
    if settings.enable_batching:
        batcher = MicroBatcher(model.infer, settings.max_batch_size, settings.max_batch_wait_ms, metrics.batch_rows)
        stage = Batching(local, batcher)
    if settings.cache_redis_url:
        cache = RedisCache(
            settings.cache_redis_url,
            settings.cache_ttl_seconds,
            settings.cache_max_value_bytes,
            settings.cache_timeout_ms,
        )
        return Caching(stage, cache, model, metrics)
    return stage
