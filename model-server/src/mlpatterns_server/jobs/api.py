"""`mlpatterns-server async-api`: accepts jobs over HTTP and answers at once. A job's body is a
synchronous request (v1 or v2), checked against the model the way the synchronous endpoint checks
it, so bad input gets the same 4xx and never becomes a job. Accepted jobs go to the Redis Stream
the workers read; their status and result are read back by id."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from mlpatterns_server import connection
from mlpatterns_server.app import error_response, hardened_app, json_response, metrics_route, redis_health_routes
from mlpatterns_server.dataplane.plane import DataPlane
from mlpatterns_server.errors import InvalidInput, RouteNotFound, ServerError
from mlpatterns_server.jobs.metrics import JobMetrics
from mlpatterns_server.jobs.queue import IdempotencyConflict, JobQueue, Refused, status_document
from mlpatterns_server.jobs.settings import AsyncApiSettings
from mlpatterns_server.loading.loaded import LoadedModel
from mlpatterns_server.metrics import ServerMetrics
from mlpatterns_server.model import ServedModel
from mlpatterns_server.protocol import v2
from mlpatterns_server.protocol.codecs import V1, V2, V1Codec, V2Codec
from mlpatterns_server.request_body import BodyBudget, read_body

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY = "idempotency-key"


class QueueUnavailable(ServerError):
    status_code = 503


class Conflict(ServerError):
    """An Idempotency-Key reused with another body (Stripe's and the IETF draft's 422)."""

    status_code = 422


class JobsFrontEnd:
    def __init__(self, settings: AsyncApiSettings, model: ServedModel) -> None:
        import redis.asyncio

        self.settings = settings
        self.metrics = ServerMetrics(model.name, model.version, settings.role)
        self.jobs = JobMetrics(self.metrics.registry, model.name)
        self.plane = DataPlane(settings, model, self.metrics)
        self.bodies = BodyBudget(settings.max_bodies_in_flight_bytes)
        self.client = redis.asyncio.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.queue = JobQueue(self.client, settings.stream_name, settings.group, settings.result_ttl_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.plane.start()
        with contextlib.suppress(Exception):  # the workers create it too; Redis may come later
            await self.queue.ensure_group()
        yield
        await self.plane.close()
        await self.client.aclose()

    async def submit(self, request: Request) -> Response:
        try:
            body = await read_body(
                request.receive,
                request.headers.get("content-length"),
                self.settings.max_body_bytes,
                self.settings.body_timeout_seconds,
                self.bodies,
            )
            binary_header = request.headers.get(v2.HEADER_LENGTH)
            codec = _protocol(body, binary_header)
            await self.plane.check(codec, body, binary_header)
            key = request.headers.get(IDEMPOTENCY_KEY)
            if key is not None and not 0 < len(key) <= 255:
                raise InvalidInput("the Idempotency-Key header must be 1 to 255 characters")
            job_id, created = await self._submit(codec, body, binary_header, key)
        except ServerError as error:
            return error_response(error)
        if created:
            self.jobs.count("submitted")
        location = f"/v1/jobs/{job_id}"
        response = json_response({"id": job_id, "status": "pending"}, 202)
        response.headers["location"] = location
        return response

    async def _submit(
        self, codec: V1Codec | V2Codec, body: bytes, header: str | None, key: str | None
    ) -> tuple[str, bool]:
        """Accepted (the job exists and will run once) or refused (QueueUnavailable: it does not exist)."""
        from redis.exceptions import RedisError

        job_id = uuid.uuid4().hex
        try:
            return await self.queue.submit(job_id, codec.name, body, header, key, self.settings.idempotency_ttl_seconds)
        except IdempotencyConflict as error:
            raise Conflict(str(error)) from None
        except Refused:  # only after a resolve, which this submit has not had: Redis lost state
            raise QueueUnavailable("the job queue refused the job, try again later") from None
        except (RedisError, OSError) as error:
            log.warning("no answer from the job queue for job %s (%s); asking whether it was queued", job_id, error)
            if await self._resolve(job_id):
                return job_id, True
            raise QueueUnavailable(f"the job queue (Redis) is unavailable, try again later: {error}") from None

    async def _resolve(self, job_id: str) -> bool:
        """Whether the job whose submit had no answer exists, asked until Redis answers (a tombstone
        makes a no final). Redis silent for all of --submit_confirm_seconds: QueueUnavailable that
        says the job's fate is unknown and where to look."""
        from redis.exceptions import RedisError

        deadline = time.monotonic() + self.settings.submit_confirm_seconds
        while True:
            try:
                return await self.queue.resolve(job_id)
            except (RedisError, OSError) as error:
                if time.monotonic() >= deadline:
                    raise QueueUnavailable(
                        f"the job queue (Redis) did not answer for {self.settings.submit_confirm_seconds:g} s: job "
                        f"{job_id} may have been queued; GET /v1/jobs/{job_id} says ({error})"
                    ) from None
                await asyncio.sleep(0.5)

    async def status(self, request: Request) -> Response:
        from redis.exceptions import RedisError

        job_id = request.path_params["id"]
        try:
            status = await self.queue.status(job_id)
        except (RedisError, OSError) as error:
            return error_response(QueueUnavailable(f"the job queue (Redis) is unavailable, try again later: {error}"))
        if status is None:
            message = f"no job {job_id}: it was never submitted here, or its result expired"
            return error_response(RouteNotFound(message))
        return Response(status_document(job_id, status), media_type="application/json")

    def routes(self) -> list[Route]:
        return [
            Route("/v1/jobs", self.submit, methods=["POST"]),
            Route("/v1/jobs/{id}", self.status),
            *redis_health_routes(self.client),
            metrics_route(self.metrics.exposition),
        ]


def _protocol(body: bytes, binary_header: str | None) -> V1Codec | V2Codec:
    """v2 for binary tensors or an "inputs" document, v1 for "instances"."""
    if binary_header is not None:
        return V2
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return V1  # its decoder names the JSON error
    if isinstance(document, dict) and "inputs" in document and "instances" not in document:
        return V2
    return V1


def create_app(settings: AsyncApiSettings, model: ServedModel) -> ASGIApp:
    front = JobsFrontEnd(settings, model)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return error_response(RouteNotFound(f"no endpoint at {request.method} {request.url.path}; the endpoints "
                                                "are POST /v1/jobs and GET /v1/jobs/{id}"))  # fmt: skip
        return json_response({"error": exc.detail}, exc.status_code)

    return connection.ClientGoneGuard(hardened_app(settings, front.metrics, front.routes(), front.lifespan, http_error))


def run(settings: AsyncApiSettings, loaded: LoadedModel, load_seconds: float) -> None:
    import uvicorn

    from mlpatterns_server.cli import uvicorn_options

    model = ServedModel.from_settings(settings, loaded)
    model.load_seconds = load_seconds
    uvicorn.run(create_app(settings, model), **uvicorn_options(settings))  # type: ignore[arg-type]
