"""The HTTP application: KServe v1, Open Inference Protocol v2, Seldon Core's protocol (the
external API and the microservice API's /predict), health and /metrics, on Starlette
with no per-request middleware (stock KServe's FastAPI stack costs about a third of throughput)."""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mlpatterns_server import __version__, connection, logs
from mlpatterns_server.dataplane.plane import Answer, DataPlane
from mlpatterns_server.dataplane.stages import IDENTITY_HEADERS
from mlpatterns_server.errors import (
    MethodNotAllowed,
    ModelNotFound,
    RouteNotFound,
    ServerError,
)
from mlpatterns_server.metrics import ServerMetrics
from mlpatterns_server.model import ServedModel
from mlpatterns_server.protocol import v2
from mlpatterns_server.protocol.codecs import SELDON, V1, V2, Codec, error_body
from mlpatterns_server.protocol.jsonio import dump_json
from mlpatterns_server.request_body import BodyBudget, read_body
from mlpatterns_server.settings import HttpSettings, ServerSettings
from mlpatterns_server.worker_task import WorkerTask

log = logging.getLogger(__name__)


class ModelNameConvertor(StringConvertor):
    """Model names stop at ':' so that GET /v1/models/m:predict is a 405, not an unknown model."""

    regex = "[^/:]+"


register_url_convertor("model", ModelNameConvertor())

JSON = "application/json"
# Seldon Core's external API (its executor's, and SeldonClient's) and its microservice API.
SELDON_PATHS = ("/api/v1.0/predictions", "/predict")
SETTINGS_ENV = "MLPATTERNS_WORKER_SETTINGS"
# A client's x-request-id is echoed and logged only if it is a plausible id (Envoy's are UUIDs).
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


def json_response(document: Any, status: int = 200) -> Response:
    return Response(dump_json(document), status_code=status, media_type=JSON)


def redis_health_routes(client: Any, worker: WorkerTask | None = None) -> list[Route]:
    """/v2/health/live, and /v2/health/ready while the Redis the process depends on answers: the
    health of the front-ends with state (the async API, the collector, the comparison). With the
    `worker` task they live for: not ready once it died, not live after its grace period."""

    async def live(request: Request) -> Response:
        if worker is not None and worker.past_grace():
            return json_response({"live": False, "reason": worker.problem()}, 503)
        return json_response({"live": True})

    async def ready(request: Request) -> Response:
        problem = worker.problem() if worker is not None else None
        if problem:
            return json_response({"ready": False, "reason": problem}, 503)
        try:
            await client.ping()
        except Exception as error:
            return json_response({"ready": False, "reason": f"Redis: {error}"}, 503)
        return json_response({"ready": True})

    return [Route("/v2/health/live", live), Route("/v2/health/ready", ready)]


def metrics_route(exposition: Callable[[str], tuple[bytes, str]]) -> Route:
    """/metrics in the format the scraper asks for, from an exposition of a registry."""

    async def metrics(request: Request) -> Response:
        content, content_type = exposition(request.headers.get("accept", ""))
        return Response(content, headers={"content-type": content_type})

    return Route("/metrics", metrics)


def error_response(
    error: ServerError, headers: dict[str, str] | None = None, body: Callable[[int, str], bytes] = error_body
) -> Response:
    """The error's answer, in KServe's shape unless `body` is another protocol's (a codec's error_body)."""
    response = Response(body(error.status_code, error.message), status_code=error.status_code, media_type=JSON)
    if error.closes_connection:
        response.headers["connection"] = "close"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def incoming_request_id(headers: Mapping[str, str]) -> str:
    """The client's x-request-id if it is a plausible id, else a new one (never echo a 10 MB header)."""
    given = headers.get("x-request-id")
    return given if given is not None and _REQUEST_ID.match(given) else os.urandom(16).hex()


class HttpFrontEnd:
    """The HTTP front-end of one worker: routes, health and metadata, and /metrics; each inference
    request's body is read within its bounds and handed to the data plane, which answers it."""

    def __init__(self, settings: ServerSettings, model: ServedModel, serve_metrics_port: bool = True) -> None:
        self.settings = settings
        # With workers, their parent serves the metrics port (the sum over workers), not each worker.
        self.serve_metrics_port = serve_metrics_port and settings.metrics_port > 0
        self.model = model
        self.metrics = ServerMetrics(model.name, model.version, settings.role)
        self.plane = DataPlane(settings, model, self.metrics)
        self.bodies = BodyBudget(settings.max_bodies_in_flight_bytes)
        # Which model answered, behind a router that splits or forces variants (a transformer's
        # answer is the predictor's, with the predictor's headers).
        role, version = IDENTITY_HEADERS
        self.identity = {} if settings.predictor_host else {role: settings.role, version: model.version}

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.plane.start()
        stop_metrics = (
            self.metrics.serve_port(self.settings.metrics_port, self.settings.host) if self.serve_metrics_port else None
        )
        yield
        if stop_metrics:
            stop_metrics()
        await self.plane.close()

    # -- inference

    async def v1_predict(self, request: Request) -> Response:
        return await self._inference(request, V1)

    async def v2_infer(self, request: Request) -> Response:
        version = request.path_params.get("version")
        if version is not None and version != self.model.version:
            return error_response(
                ModelNotFound(f"model '{self.model.name}' has version {self.model.version}, not {version}")
            )
        return await self._inference(request, V2)

    async def seldon_predict(self, request: Request) -> Response:
        # Seldon's paths carry no model name: the one model here answers.
        return await self._inference(request, SELDON, self.model.name)

    async def _inference(self, request: Request, codec: Codec, name: str | None = None) -> Response:
        name = request.path_params["name"] if name is None else name
        answer = await self.answer(codec, name, request.headers, request.receive)
        response = Response(answer.body, status_code=answer.status, media_type=answer.content_type)
        response.headers.update(answer.headers)
        return response

    async def answer(self, codec: Codec, name: str, headers: Mapping[str, str], receive: Receive) -> Answer:
        """One inference request of any route: its body read within bounds, answered by the data
        plane, with its x-request-id and the role and version of the model that answered."""
        request_id = incoming_request_id(headers)

        def body() -> Awaitable[bytes]:
            return read_body(
                receive,
                headers.get("content-length"),
                self.settings.max_body_bytes,
                self.settings.body_timeout_seconds,
                self.bodies,
            )

        answer = await self.plane.handle(codec, body, name, request_id, headers, headers.get(v2.HEADER_LENGTH))
        answer.headers.update(self.identity)
        answer.headers["x-request-id"] = request_id
        return answer

    # -- health and metadata

    async def live(self, request: Request) -> Response:
        return json_response({"status": "alive"})

    async def seldon_ping(self, request: Request) -> Response:
        return Response("pong", media_type="text/plain")

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
            self.plane.check_model(request.path_params["name"])
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
            *(Route(path, self.seldon_predict, methods=["POST"]) for path in SELDON_PATHS),
            Route("/health/ping", self.seldon_ping),
        ] + ([] if self.settings.metrics_port else [metrics_route(self.metrics.exposition)])


def endpoints(model: str, metrics_here: bool = True) -> list[str]:
    """The endpoints a client calls, most used first, as `METHOD /path` for this model (/metrics
    only when it is on this port, not on --metrics_port)."""
    return [
        f"POST /v1/models/{model}:predict",
        f"POST /v2/models/{model}/infer",
        "POST /api/v1.0/predictions",
        f"GET /v2/models/{model}",
        f"GET /v2/models/{model}/ready",
        f"GET /v1/models/{model}",
        "GET /v2/health/ready",
        "GET /v2/health/live",
    ] + (["GET /metrics"] if metrics_here else [])


def not_found(method: str, path: str, model: str, metrics_here: bool = True) -> RouteNotFound:
    """A 404 that points at the endpoint the client most likely meant."""
    known = endpoints(model, metrics_here)
    paths = [endpoint.split(" ", 1)[1] for endpoint in known]
    nearest = difflib.get_close_matches(path, paths, n=1, cutoff=0.6)
    if nearest:
        return RouteNotFound(f"no endpoint at {method} {path}; did you mean {known[paths.index(nearest[0])]}?")
    return RouteNotFound(f"no endpoint at {method} {path}; the endpoints are {', '.join(known[:3])}, ...")


def create_app(settings: ServerSettings, model: ServedModel, serve_metrics_port: bool = True) -> ASGIApp:
    service = HttpFrontEnd(settings, model, serve_metrics_port)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = {"x-request-id": incoming_request_id(request.headers)}
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path}; it takes {allowed}"
            return error_response(MethodNotAllowed(message), {**headers, "allow": allowed})
        if exc.status_code == 404:
            return error_response(
                not_found(request.method, request.url.path, model.name, not settings.metrics_port), headers
            )
        response = json_response({"error": exc.detail}, exc.status_code)
        response.headers.update(headers)
        return response

    app = hardened_app(settings, service.metrics, service.routes(), service.lifespan, http_error)
    return connection.ClientGoneGuard(InferencePaths(service, app))


class InferencePaths:
    """The hot path: a POST to this model's own inference paths goes straight to the data plane,
    without Starlette's middleware, routing, Request and Response (a quarter of the server's time
    per batched request, bench/README.md); anything else, another model's name included, goes
    to the Starlette app, whose routes answer it the same way or with the error."""

    def __init__(self, front: HttpFrontEnd, app: ASGIApp) -> None:
        self.front = front
        self.app = app
        name, version = front.model.name, front.model.version
        self.paths: dict[str, Codec] = {
            f"/v1/models/{name}:predict": V1,
            f"/v2/models/{name}/infer": V2,
            f"/v2/models/{name}/versions/{version}/infer": V2,
            **dict.fromkeys(SELDON_PATHS, SELDON),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        codec = self.paths.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if codec is None:
            return await self.app(scope, receive, send)
        answer = await self.front.answer(codec, self.front.model.name, Headers(scope=scope), receive)
        headers = [
            (b"content-length", str(len(answer.body)).encode()),
            (b"content-type", answer.content_type.encode()),
            *((name.encode(), value.encode("latin-1")) for name, value in answer.headers.items()),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


def hardened_app(
    settings: HttpSettings,
    metrics: ServerMetrics,
    routes: list[Route],
    lifespan: Any,
    http_error: Callable[[Request, Exception], Awaitable[Response]],
) -> Starlette:
    """An HTTP front-end's app under the connection limits (connection.py): the same for every
    front-end that listens. Wrap it in connection.ClientGoneGuard."""
    limits = connection.ConnectionLimits(
        settings.max_header_bytes, settings.header_timeout_seconds, settings.max_pipelined_requests
    )
    connection.configure(limits, metrics.refused)
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})


def create_worker_app() -> ASGIApp:
    """The app of one worker process, from the settings the parent process handed down."""
    settings = ServerSettings.model_validate_json(os.environ[SETTINGS_ENV])
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings, ServedModel.from_settings(settings), serve_metrics_port=False)
