"""`mlpatterns-server collector`: the receiver (CloudEvents over HTTP into the stream) and the
lander (the stream into Parquet), in one process or, with --receive / --land, in two.

    POST /                   a CloudEvent (KServe's logger, our servers' http sink): 202
    GET  /v1/events/{id}     what became of the events with that id, by component
    POST /v1/flush           land everything read now, not when files are due (helm test)
    GET  /metrics            mlpatterns_collector_* (or on --metrics_port)"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlpatterns_server.app import json_response, metrics_route, redis_health_routes
from mlpatterns_server.collector.lander import Lander
from mlpatterns_server.collector.metrics import CollectorMetrics
from mlpatterns_server.collector.receiver import BadEvent, Receiver
from mlpatterns_server.collector.settings import CollectorSettings
from mlpatterns_server.errors import ServerError
from mlpatterns_server.metrics import serve_port
from mlpatterns_server.request_body import BodyBudget, read_body
from mlpatterns_server.worker_task import WorkerTask

log = logging.getLogger(__name__)


class Collector:
    def __init__(self, settings: CollectorSettings) -> None:
        import redis.asyncio

        self.settings = settings
        self.metrics = CollectorMetrics()
        self.bodies = BodyBudget(settings.max_bodies_in_flight_bytes)
        self.client = redis.asyncio.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=10)
        self.receiver = Receiver(
            self.client, settings.stream, settings.stream_maxlen, settings.join_ttl_seconds, settings.logger_mode
        )
        self.lander = (
            Lander(self.client, settings.stream, settings.group, settings.consumer, settings.output,
                   settings.max_file_rows, settings.max_file_age_seconds, settings.join_ttl_seconds, self.metrics)
            if settings.land else None
        )  # fmt: skip
        self.worker = WorkerTask("lander")
        self.stopping = asyncio.Event()

    async def event(self, request: Request) -> Response:
        from redis.exceptions import RedisError

        try:
            body = await read_body(
                request.receive,
                request.headers.get("content-length"),
                self.settings.max_body_bytes,
                self.settings.body_timeout_seconds,
                self.bodies,
            )
            source, outcome = await self.receiver.take(dict(request.headers), body)
        except ServerError as error:
            self.metrics.events.labels(source="unknown", result="rejected").inc()
            return json_response({"error": error.message}, error.status_code)
        except BadEvent as error:
            self.metrics.events.labels(source="unknown", result="rejected").inc()
            return json_response({"error": str(error)}, 400)
        except (RedisError, OSError) as error:
            log.warning("cannot store an event: %s", error)
            self.metrics.events.labels(source="unknown", result="unavailable").inc()
            return json_response({"error": f"the event stream (Redis) is unavailable: {error}"}, 503)
        self.metrics.events.labels(source=source, result=outcome).inc()
        return json_response({"status": outcome}, 202)

    async def state(self, request: Request) -> Response:
        event_id = request.path_params["id"]
        states = await self.receiver.state(event_id)
        if not states:
            return json_response(
                {"error": f"no event with id {event_id!r} in the last {self.settings.join_ttl_seconds} s"}, 404
            )
        return json_response({"id": event_id, "components": states})

    async def flush(self, request: Request) -> Response:
        if self.lander is None:
            return json_response({"error": "this collector does not land events (--land false)"}, 409)
        return json_response({"landed": await self.lander.flush(due_only=False)})

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        port = self.settings.metrics_port
        stop_metrics = serve_port(self.metrics.registry, port, self.settings.host) if port else None
        task = self.worker.start(self._land()) if self.lander else None
        yield
        self.stopping.set()
        if task:
            with contextlib.suppress(Exception):  # it died: logged, and said by readiness, when it did
                await task
        if stop_metrics:
            stop_metrics()
        await self.client.aclose()

    async def _land(self) -> None:
        """The lander, kept running through Redis and storage outages. Bad entries are dead letters
        (lander.py); anything else ends the task, and with it readiness (worker_task.py)."""
        from redis.exceptions import RedisError

        assert self.lander is not None
        while not self.stopping.is_set():
            try:
                await self.lander.run(self.stopping)
            except (RedisError, OSError) as error:
                self.metrics.land_errors.inc()
                log.warning("landing paused (%s); retrying in 1 s", error)
                await asyncio.sleep(1)

    def app(self) -> Starlette:
        routes = [
            Route("/v1/events/{id}", self.state),
            Route("/v1/flush", self.flush, methods=["POST"]),
            *redis_health_routes(self.client, self.worker if self.lander else None),
        ]
        if self.settings.receive:
            routes.insert(0, Route("/", self.event, methods=["POST"]))
        if not self.settings.metrics_port:
            routes.append(metrics_route(self.metrics.exposition))
        return Starlette(routes=routes, lifespan=self.lifespan)


def run(settings: CollectorSettings) -> int:
    import uvicorn

    from mlpatterns_server.arrowfs import shut_down

    collector = Collector(settings)
    log.info(
        "collector: %s%s", f"receiving on :{settings.http_port} " if settings.receive else "",
        f"landing {settings.stream} in {settings.output}" if settings.land else "",
    )  # fmt: skip
    try:
        uvicorn.run(collector.app(), host=settings.host, port=settings.http_port, log_config=None, access_log=False)
    finally:
        shut_down()
    return 0
