"""The data plane: what happens to a request once a front-end has it, with no transport in it.

    body -> decode (codec; a large JSON body in the helper process) -> bind (the model's inputs)
         -> stage (model, batcher or predictor) -> encode (codec) -> answer
         -> hooks (metrics; the prediction log)

The HTTP app is one front-end; the async worker, the batch job and the collector are others. Every
client mistake on the way is an answer with its 4xx; only a fault of the server is a 500."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mlpatterns_server import threads
from mlpatterns_server.dataplane.stages import Inference, Relayed, Stage, build_stage
from mlpatterns_server.errors import ModelNotFound, ModelNotReady, ServerError
from mlpatterns_server.loading.loaded import Tensors
from mlpatterns_server.metrics import ServerMetrics
from mlpatterns_server.model import ServedModel
from mlpatterns_server.offload import Offload
from mlpatterns_server.predlog.event import PredictionEvent
from mlpatterns_server.predlog.log import PredictionLog
from mlpatterns_server.predlog.sinks import make_sink
from mlpatterns_server.predlog.spool import Spool
from mlpatterns_server.protocol.codecs import Codec, Decoded
from mlpatterns_server.settings import ServerSettings

log = logging.getLogger(__name__)

JSON = "application/json"


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def error(cls, error: ServerError, codec: Codec) -> Answer:
        """The error in the protocol's own shape (KServe's {"error": ...}, Seldon's status)."""
        body = codec.error_body(error.status_code, error.message)
        # An answer that closes the connection: the rest of that request is not worth reading.
        headers = {"connection": "close"} if error.closes_connection else {}
        return cls(error.status_code, body, headers=headers)


class Hook(Protocol):
    def answered(
        self, request_id: str, inputs: Tensors | None, outputs: Tensors | None, answer: Answer, seconds: float
    ) -> None:
        """After every request: `inputs` and `outputs` are None when nothing was predicted here."""


class CountAnswers:
    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics

    def answered(
        self, request_id: str, inputs: Tensors | None, outputs: Tensors | None, answer: Answer, seconds: float
    ) -> None:
        self.metrics.observe(answer.status, seconds)


class LogPredictions:
    def __init__(self, log: PredictionLog, model: ServedModel, role: str) -> None:
        self.log = log
        self.model = model
        self.role = role

    def answered(
        self, request_id: str, inputs: Tensors | None, outputs: Tensors | None, answer: Answer, seconds: float
    ) -> None:
        if inputs is not None and outputs is not None:
            event = PredictionEvent(
                request_id, self.model.name, self.model.version, self.role, inputs, outputs, seconds * 1000, time.time()
            )
            self.log.record(event)


class DataPlane:
    def __init__(self, settings: ServerSettings, model: ServedModel, metrics: ServerMetrics) -> None:
        self.settings = settings
        self.model = model
        self.metrics = metrics
        self.stage: Stage = build_stage(settings, model, metrics)
        self.offload = Offload(settings.offload_bytes)
        self.prediction_log = _prediction_log(settings, metrics)
        self.hooks: list[Hook] = [CountAnswers(metrics)]
        if self.prediction_log is not None:
            self.hooks.append(LogPredictions(self.prediction_log, model, settings.role))

    def start(self) -> None:
        """Load the model if it is not yet, then start what runs beside requests."""
        if not self.model.ready:
            self.model.load()
        self.metrics.loaded(self.model.load_seconds)
        log.info(
            "serving %s as '%s' version %s (%s)",
            self.model.loaded.describe(), self.model.name, self.model.version, self.settings.role,
        )  # fmt: skip
        # The libraries and the model are ~250k long-lived objects: a full collection over them
        # stalls every request for ~100 ms. Freeze them so collections only walk new objects.
        gc.collect()
        gc.freeze()
        threads.limit_this_thread(self.settings.loop_model_threads)
        if self.prediction_log:
            self.prediction_log.start()
        self.stage.start()
        self.offload.start()

    async def close(self) -> None:
        await self.stage.close()
        if self.prediction_log:
            await self.prediction_log.close()
        self.offload.close()
        gc.unfreeze()

    async def handle(
        self,
        codec: Codec,
        body: Callable[[], Awaitable[bytes]],
        model_name: str,
        request_id: str,
        headers: Mapping[str, str] | None = None,
        binary_header: str | None = None,
    ) -> Answer:
        """One request, from its body (read when the model is known to be here) to its answer."""
        started = time.perf_counter()
        inputs: Tensors | None = None
        outputs: Tensors | None = None
        self.metrics.in_flight.inc()
        try:
            self.check_model(model_name)
            inference, decoded = await self.bind(codec, await body(), request_id, headers, binary_header)
            result = await self.stage.run(inference)
            if isinstance(result, Relayed):
                answer = Answer(result.status, result.body, result.content_type, dict(result.headers))
            else:
                inputs, outputs = inference.inputs, result
                content, extra = codec.encode(decoded, self.model, request_id, result)
                answer = Answer(200, content, headers=extra)
        except ServerError as error:
            answer, inputs, outputs = Answer.error(error, codec), None, None
        except Exception:
            log.exception("inference failed for request %s", request_id)
            message = f"internal error while predicting (request {request_id}); see the server log"
            answer, inputs, outputs = Answer(500, codec.error_body(500, message)), None, None
        finally:
            self.metrics.in_flight.dec()
        seconds = time.perf_counter() - started
        for hook in self.hooks:
            hook.answered(request_id, inputs, outputs, answer, seconds)
        return answer

    async def check(self, codec: Codec, body: bytes, binary_header: str | None = None) -> None:
        """Decode and bind without predicting (the async API accepts only what would be answered):
        raises the ServerError the synchronous endpoint would answer with."""
        await self.bind(codec, body, "check", None, binary_header)

    async def bind(
        self, codec: Codec, body: bytes, request_id: str, headers: Mapping[str, str] | None, binary_header: str | None
    ) -> tuple[Inference, Decoded]:
        large = codec.offloadable(binary_header) and self.offload.wants(len(body))
        specs = self.model.loaded.inputs
        decoded = (
            await self.offload.decode(codec.decode, body, specs, binary_header)
            if large
            else codec.decode(body, specs, binary_header)
        )
        inputs, rows = self.model.bind(decoded.tensors)
        # In transformer mode the predictor decides what it answers: no outputs are checked here.
        outputs = () if self.settings.predictor_host else codec.outputs(decoded, self.model)
        return Inference(request_id, inputs, rows, outputs, large, headers or {}), decoded

    def check_model(self, name: str) -> None:
        if name != self.model.name:
            raise ModelNotFound(f"model '{name}' is not served here; this server serves '{self.model.name}'")
        if not self.model.ready:
            raise ModelNotReady(f"model '{name}' is not loaded yet")


def _prediction_log(settings: ServerSettings, metrics: ServerMetrics) -> PredictionLog | None:
    sink = make_sink(settings)
    if sink is None:
        return None
    spool = Spool(settings.spool_directory) if settings.prediction_log_spool else None
    return PredictionLog(
        sink, settings.prediction_log_buffer_bytes, settings.prediction_log_flush_seconds, metrics, spool
    )
