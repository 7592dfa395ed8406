"""The aggregator's HTTP front-end: the v1 predict path takes an Ensemble's answers and gives their
combination (combine.py), and Seldon Core 1's /aggregate does the same for a COMBINER's children;
health, metadata and /metrics as every server of the kit has them, and the same connection limits
(app.hardened_app)."""

from __future__ import annotations

import logging
import time

import orjson
from prometheus_client import Counter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from mlpatterns_server import connection
from mlpatterns_server.aggregate.combine import combine, read_answers
from mlpatterns_server.aggregate.settings import AggregatorSettings
from mlpatterns_server.app import error_response, hardened_app, incoming_request_id, json_response, metrics_route
from mlpatterns_server.dataplane.stages import IDENTITY_HEADERS
from mlpatterns_server.errors import InvalidInput, MethodNotAllowed, ModelNotFound, RouteNotFound, ServerError
from mlpatterns_server.metrics import ServerMetrics
from mlpatterns_server.protocol import seldon
from mlpatterns_server.protocol.codecs import error_body
from mlpatterns_server.protocol.jsonio import dump_json
from mlpatterns_server.request_body import BodyBudget, read_body

log = logging.getLogger(__name__)


class Aggregator:
    def __init__(self, settings: AggregatorSettings) -> None:
        self.settings = settings
        version = settings.model_version or settings.method
        self.metrics = ServerMetrics(settings.model_name, version, settings.role)
        self.missing = Counter(
            "mlpatterns_aggregator_missing_answers",
            "Ensemble steps with no answer to combine (a Soft step that failed), by step.",
            ["model", "step"],
            registry=self.metrics.registry,
        )
        self.bodies = BodyBudget(settings.max_bodies_in_flight_bytes)
        role, version_header = IDENTITY_HEADERS
        self.identity = {role: settings.role, version_header: version}

    async def predict(self, request: Request) -> Response:
        return await self._aggregate(request, seldon_api=False)

    async def seldon_aggregate(self, request: Request) -> Response:
        return await self._aggregate(request, seldon_api=True)

    async def _aggregate(self, request: Request, seldon_api: bool) -> Response:
        started = time.perf_counter()
        request_id = incoming_request_id(request.headers)
        headers = {**self.identity, "x-request-id": request_id}
        try:
            name = request.path_params.get("name", self.settings.model_name)
            if name != self.settings.model_name:
                raise ModelNotFound(f"model '{name}' is not served here; this aggregator serves "
                                    f"'{self.settings.model_name}'")  # fmt: skip
            body = await read_body(
                request.receive, request.headers.get("content-length"), self.settings.max_body_bytes,
                self.settings.body_timeout_seconds, self.bodies,
            )  # fmt: skip
            document = seldon.read_message_list(body, self.settings.steps) if seldon_api else _json(body)
            answers = read_answers(document, self.settings.steps)
            for step in answers.missing:
                self.missing.labels(model=self.settings.model_name, step=step).inc()
            result = combine(answers, self.settings.method, self.settings.weights, self.settings.min_answers)
            if seldon_api:
                result = {"data": {"names": [], "ndarray": result["predictions"]}}
            response = Response(dump_json(result), media_type="application/json", headers=headers)
        except ServerError as error:
            response = error_response(error, headers, seldon.error_body if seldon_api else error_body)
        except Exception:
            log.exception("aggregation failed for request %s", request_id)
            message = f"internal error while aggregating (request {request_id}); see the server log"
            response = Response((seldon.error_body if seldon_api else error_body)(500, message), 500, headers,
                                "application/json")  # fmt: skip
        self.metrics.observe(response.status_code, time.perf_counter() - started)
        return response

    async def live(self, request: Request) -> Response:
        return json_response({"live": True})

    async def ready(self, request: Request) -> Response:
        return json_response({"ready": True})

    async def model(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name != self.settings.model_name:
            return error_response(ModelNotFound(f"model '{name}' is not served here"))
        return json_response({"name": name, "ready": True, "method": self.settings.method,
                              "steps": self.settings.steps, "weights": self.settings.weights})  # fmt: skip

    def routes(self) -> list[Route]:
        return [
            Route("/v1/models/{name:model}:predict", self.predict, methods=["POST"]),
            Route("/aggregate", self.seldon_aggregate, methods=["POST"]),
            Route("/v1/models/{name:model}", self.model),
            Route("/v2/models/{name:model}", self.model),
            Route("/v2/health/live", self.live),
            Route("/v2/health/ready", self.ready),
            metrics_route(self.metrics.exposition),
        ]


def _json(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"the body is not JSON: {error}") from None


def create_app(settings: AggregatorSettings) -> ASGIApp:
    aggregator = Aggregator(settings)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = {"x-request-id": incoming_request_id(request.headers)}
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            return error_response(
                MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}; it takes {allowed}"),
                {**headers, "allow": allowed},
            )
        path = f"/v1/models/{settings.model_name}:predict"
        return error_response(RouteNotFound(f"no endpoint at {request.method} {request.url.path}; the aggregator "
                                            f"answers POST {path}"), headers)  # fmt: skip

    app = hardened_app(settings, aggregator.metrics, aggregator.routes(), None, http_error)
    return connection.ClientGoneGuard(app)


def run(settings: AggregatorSettings) -> int:
    import uvicorn

    from mlpatterns_server.cli import uvicorn_options

    log.info(
        "aggregating the steps %s by %s as '%s'", ", ".join(settings.steps) or "(any)", settings.method,
        settings.model_name,
    )  # fmt: skip
    uvicorn.run(create_app(settings), **uvicorn_options(settings))  # type: ignore[arg-type]
    return 0
