"""Stages: what answers a bound request. They share one small interface and are built from the
settings: the model in this process, the micro-batcher in front of it, or (transformer mode) the
model as a preprocessor in front of the predictor, whose answer is relayed as it is."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mlpatterns_server.batching import MicroBatcher
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


@dataclass(frozen=True)
class Relayed:
    """Another server's answer (the predictor's, in transformer mode), passed on as it is."""

    status: int
    body: bytes
    content_type: str


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
        return Relayed(answer.status_code, answer.content, answer.headers.get("content-type", "application/json"))

    def start(self) -> None:
        return None

    async def close(self) -> None:
        await self.predictor.close()


def build_stage(settings: ServerSettings, model: ServedModel, metrics: ServerMetrics) -> Stage:
    local = LocalModel(model)
    if settings.predictor_host:
        return Forwarding(local, PredictorClient(settings))
    if settings.enable_batching:
        batcher = MicroBatcher(model.infer, settings.max_batch_size, settings.max_batch_wait_ms, metrics.batch_rows)
        return Batching(local, batcher)
    return local
