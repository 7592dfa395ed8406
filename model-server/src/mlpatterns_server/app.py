"""The HTTP application: KServe v1, Open Inference Protocol v2, health and /metrics, on Starlette
with no per-request middleware (stock KServe's FastAPI stack costs about a third of throughput)."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import gc
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from mlpatterns_server import __version__, connection, logs
from mlpatterns_server.batching import MicroBatcher
from mlpatterns_server.errors import (
    MethodNotAllowed,
    ModelNotFound,
    ModelNotReady,
    RouteNotFound,
    ServerError,
)
from mlpatterns_server.forwarding import PredictorClient
from mlpatterns_server.loading.loaded import Tensors
from mlpatterns_server.metrics import ServerMetrics
from mlpatterns_server.model import ServedModel
from mlpatterns_server.offload import Offload
from mlpatterns_server.predlog.event import PredictionEvent
from mlpatterns_server.predlog.log import PredictionLog
from mlpatterns_server.predlog.sinks import make_sink
from mlpatterns_server.predlog.spool import Spool
from mlpatterns_server.protocol import v1, v2
from mlpatterns_server.protocol.jsonio import dump_json
from mlpatterns_server.request_body import BodyBudget, read_body
from mlpatterns_server.settings import ServerSettings

log = logging.getLogger(__name__)


class ModelNameConvertor(StringConvertor):
    """Model names stop at ':' so that GET /v1/models/m:predict is a 405, not an unknown model."""

    regex = "[^/:]+"


register_url_convertor("model", ModelNameConvertor())

JSON = "application/json"
SETTINGS_ENV = "MLPATTERNS_WORKER_SETTINGS"
# A client's x-request-id is echoed and logged only if it is a plausible id (Envoy's are UUIDs).
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
# A response, and the inputs and outputs of the prediction behind it (None: nothing to log).
Handled = tuple[Response, Tensors | None, Tensors | None]


def json_response(document: Any, status: int = 200) -> Response:
    return Response(dump_json(document), status_code=status, media_type=JSON)


def error_response(error: ServerError, headers: dict[str, str] | None = None) -> Response:
    response = json_response({"error": error.message}, error.status_code)
    if error.closes_connection:
        response.headers["connection"] = "close"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def incoming_request_id(request: Request) -> str:
    """The client's x-request-id if it is a plausible id, else a new one (never echo a 10 MB header)."""
    given = request.headers.get("x-request-id")
    return given if given is not None and _REQUEST_ID.match(given) else uuid.uuid4().hex


class InferenceService:
    """The state one worker serves from: the model, its metrics, the prediction log, the batcher."""

    def __init__(self, settings: ServerSettings, model: ServedModel, serve_metrics_port: bool = True) -> None:
        self.settings = settings
        # With workers, their parent serves the metrics port (the sum over workers), not each worker.
        self.serve_metrics_port = serve_metrics_port and settings.metrics_port > 0
        self.model = model
        self.metrics = ServerMetrics(model.name, model.version, settings.role)
        self.prediction_log = self._prediction_log(settings)
        # Transformer mode: the model is the preprocessor, the predictor predicts.
        self.forwarder = PredictorClient(settings) if settings.predictor_host else None
        self.batcher = (
            MicroBatcher(model.infer, settings.max_batch_size, settings.max_batch_wait_ms, self.metrics.batch_rows)
            if settings.enable_batching and self.forwarder is None
            else None
        )
        self.bodies = BodyBudget(settings.max_bodies_in_flight_bytes)
        self.offload = Offload(settings.offload_bytes)

    def _prediction_log(self, settings: ServerSettings) -> PredictionLog | None:
        sink = make_sink(settings)
        if sink is None:
            return None
        spool = Spool(settings.spool_directory) if settings.prediction_log_spool else None
        return PredictionLog(
            sink, settings.prediction_log_buffer_bytes, settings.prediction_log_flush_seconds, self.metrics, spool
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        if not self.model.ready:
            self.model.load()
        self.metrics.loaded(self.model.load_seconds)
        log.info(
            "serving %s as '%s' version %s (%s)",
            self.model.loaded.describe(),
            self.model.name,
            self.model.version,
            self.settings.role,
        )
        # The libraries and the model are ~250k long-lived objects: a full collection over them
        # stalls every request for ~100 ms. Freeze them so collections only walk new objects.
        gc.collect()
        gc.freeze()
        if self.prediction_log:
            self.prediction_log.start()
        if self.batcher:
            self.batcher.start()
        self.offload.start()
        stop_metrics = (
            self.metrics.serve_port(self.settings.metrics_port, self.settings.host) if self.serve_metrics_port else None
        )
        yield
        if stop_metrics:
            stop_metrics()
        self.offload.close()
        if self.batcher:
            await self.batcher.close()
        if self.prediction_log:
            await self.prediction_log.close()
        if self.forwarder:
            await self.forwarder.close()

    # -- inference

    async def v1_predict(self, request: Request) -> Response:
        return await self._inference(request, self._v1)

    async def v2_infer(self, request: Request) -> Response:
        version = request.path_params.get("version")
        if version is not None and version != self.model.version:
            return error_response(
                ModelNotFound(f"model '{self.model.name}' has version {self.model.version}, not {version}")
            )
        return await self._inference(request, self._v2)

    async def _v1(self, body: bytes, request: Request, request_id: str) -> Handled:
        large = self.offload.wants(len(body))
        specs = self.model.loaded.inputs
        tensors = await self.offload.decode(v1.decode, body, specs) if large else v1.decode(body, specs)
        inputs, rows = self.model.bind(tensors)
        if self.forwarder is not None:
            return await self._forward(inputs, request, request_id, large)
        answer = self.model.v1_output
        outputs = await self._predict(inputs, (answer,), rows, large)
        return Response(v1.encode(outputs[answer]), media_type=JSON), inputs, outputs

    async def _v2(self, body: bytes, request: Request, request_id: str) -> Handled:
        header_length = request.headers.get(v2.HEADER_LENGTH)
        # Binary tensors decode at memory speed; only a large JSON body is worth the helper.
        large = header_length is None and self.offload.wants(len(body))
        decoded = await self.offload.decode(v2.decode, body, header_length) if large else v2.decode(body, header_length)
        if self.forwarder is not None:
            return await self._forward(self.model.bind(decoded.tensors)[0], request, request_id, large)
        names = self.model.check_outputs(list(decoded.outputs))
        inputs, rows = self.model.bind(decoded.tensors)
        outputs = await self._predict(inputs, names, rows, large)
        content, headers = v2.encode(decoded, self.model.name, self.model.version, request_id, outputs)
        return Response(content, media_type=JSON, headers=headers), inputs, outputs

    async def _forward(self, inputs: Tensors, request: Request, request_id: str, large: bool) -> Handled:
        """Preprocess, then let the predictor answer; its answer (and status) is the response.
        The predictor logs the prediction, under the same x-request-id."""
        assert self.forwarder is not None
        output = self.model.transform_output
        transformed = await self._predict(inputs, (output,), 0, large) if large else self.model.infer(inputs, (output,))
        features = transformed[output]
        answer = await self.forwarder.predict(features, {**request.headers, "x-request-id": request_id})
        content_type = answer.headers.get("content-type", JSON)
        return Response(answer.content, status_code=answer.status_code, media_type=content_type), None, None

    async def _predict(self, inputs: Tensors, outputs: tuple[str, ...], rows: int, large: bool) -> Tensors:
        if large:  # off the event loop; too big to gain anything from a batch
            return await asyncio.to_thread(self.model.infer, inputs, outputs)
        if self.batcher is not None:
            return await self.batcher.submit(inputs, outputs, rows)
        return self.model.infer(inputs, outputs)

    async def _inference(
        self,
        request: Request,
        handle: Callable[[bytes, Request, str], Awaitable[Handled]],
    ) -> Response:
        started = time.perf_counter()
        request_id = incoming_request_id(request)
        self.metrics.in_flight.inc()
        try:
            self._check_model(request.path_params["name"])
            body = await read_body(
                request, self.settings.max_body_bytes, self.settings.body_timeout_seconds, self.bodies
            )
            response, inputs, outputs = await handle(body, request, request_id)
        except ServerError as error:
            response, inputs, outputs = error_response(error), None, None
        except Exception:
            log.exception("inference failed for request %s", request_id)
            message = f"internal error while predicting (request {request_id}); see the server log"
            response, inputs, outputs = json_response({"error": message}, 500), None, None
        finally:
            self.metrics.in_flight.dec()
        elapsed = time.perf_counter() - started
        self.metrics.observe(response.status_code, elapsed)
        response.headers["x-request-id"] = request_id
        if self.prediction_log is not None and inputs is not None and outputs is not None:
            self.prediction_log.record(
                PredictionEvent(
                    request_id,
                    self.model.name,
                    self.model.version,
                    self.settings.role,
                    inputs,
                    outputs,
                    elapsed * 1000,
                    time.time(),
                )
            )
        return response

    def _check_model(self, name: str) -> None:
        if name != self.model.name:
            raise ModelNotFound(f"model '{name}' is not served here; this server serves '{self.model.name}'")
        if not self.model.ready:
            raise ModelNotReady(f"model '{name}' is not loaded yet")

    # -- health and metadata

    async def live(self, request: Request) -> Response:
        return json_response({"status": "alive"})

    async def v2_live(self, request: Request) -> Response:
        return json_response({"live": True})

    async def v2_ready(self, request: Request) -> Response:
        ready = self.model.ready
        return json_response({"ready": ready}, 200 if ready else 503)

    async def v2_server_metadata(self, request: Request) -> Response:
        return json_response(
            {"name": "mlpatterns-server", "version": __version__, "extensions": ["binary_tensor_data"]}
        )

    async def v2_model_metadata(self, request: Request) -> Response:
        try:
            self._check_model(request.path_params["name"])
        except ServerError as error:
            return error_response(error)
        return json_response(self.model.metadata())

    async def v2_model_ready(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name != self.model.name:
            return error_response(ModelNotFound(f"model '{name}' is not served here"))
        return json_response({"name": name, "ready": self.model.ready}, 200 if self.model.ready else 503)

    async def v1_models(self, request: Request) -> Response:
        return json_response({"models": [self.model.name]})

    async def v1_model(self, request: Request) -> Response:
        return await self.v2_model_ready(request)

    async def metrics_endpoint(self, request: Request) -> Response:
        content, content_type = self.metrics.exposition(request.headers.get("accept", ""))
        return Response(content, headers={"content-type": content_type})

    def routes(self) -> list[Route]:
        return [
            Route("/", self.live),
            Route("/v1/models", self.v1_models),
            Route("/v1/models/{name:model}", self.v1_model),
            Route("/v1/models/{name:model}:predict", self.v1_predict, methods=["POST"]),
            Route("/v2", self.v2_server_metadata),
            Route("/v2/health/live", self.v2_live),
            Route("/v2/health/ready", self.v2_ready),
            Route("/v2/models/{name:model}", self.v2_model_metadata),
            Route("/v2/models/{name:model}/ready", self.v2_model_ready),
            Route("/v2/models/{name:model}/infer", self.v2_infer, methods=["POST"]),
            Route("/v2/models/{name:model}/versions/{version}/infer", self.v2_infer, methods=["POST"]),
        ] + ([] if self.settings.metrics_port else [Route("/metrics", self.metrics_endpoint)])


def endpoints(model: str) -> list[str]:
    """The endpoints a client calls, most used first, as `METHOD /path` for this model."""
    return [
        f"POST /v1/models/{model}:predict",
        f"POST /v2/models/{model}/infer",
        f"GET /v2/models/{model}",
        f"GET /v2/models/{model}/ready",
        f"GET /v1/models/{model}",
        "GET /v2/health/ready",
        "GET /v2/health/live",
        "GET /metrics",
    ]


def not_found(method: str, path: str, model: str) -> RouteNotFound:
    """A 404 that points at the endpoint the client most likely meant."""
    known = endpoints(model)
    paths = [endpoint.split(" ", 1)[1] for endpoint in known]
    nearest = difflib.get_close_matches(path, paths, n=1, cutoff=0.6)
    if nearest:
        return RouteNotFound(f"no endpoint at {method} {path}; did you mean {known[paths.index(nearest[0])]}?")
    return RouteNotFound(f"no endpoint at {method} {path}; the endpoints are {', '.join(known[:3])}, ...")


def create_app(settings: ServerSettings, model: ServedModel, serve_metrics_port: bool = True) -> ASGIApp:
    service = InferenceService(settings, model, serve_metrics_port)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = {"x-request-id": incoming_request_id(request)}
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path}; it takes {allowed}"
            return error_response(MethodNotAllowed(message), {**headers, "allow": allowed})
        if exc.status_code == 404:
            return error_response(not_found(request.method, request.url.path, model.name), headers)
        response = json_response({"error": exc.detail}, exc.status_code)
        response.headers.update(headers)
        return response

    connection.configure(
        connection.ConnectionLimits(
            settings.max_header_bytes, settings.header_timeout_seconds, settings.max_pipelined_requests
        ),
        service.metrics.refused,
    )
    app = Starlette(routes=service.routes(), lifespan=service.lifespan, exception_handlers={HTTPException: http_error})
    return connection.ClientGoneGuard(app)


def create_worker_app() -> ASGIApp:
    """The app of one worker process, from the settings the parent process handed down."""
    settings = ServerSettings.model_validate_json(os.environ[SETTINGS_ENV])
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings, ServedModel.from_settings(settings), serve_metrics_port=False)
