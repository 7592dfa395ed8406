"""`mlpatterns-server collector`: the receiver (CloudEvents over HTTP into the stream) and the
lander (the stream into Parquet), in one process or, with --receive / --land, in two."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlpatterns_server.app import json_response, redis_readiness
from mlpatterns_server.collector.lander import Lander
from mlpatterns_server.collector.receiver import BadEvent, Receiver
from mlpatterns_server.collector.settings import CollectorSettings

log = logging.getLogger(__name__)


class Collector:
    def __init__(self, settings: CollectorSettings) -> None:
        import redis.asyncio

        self.settings = settings
        self.client = redis.asyncio.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=10)
        self.receiver = Receiver(self.client, settings.stream, settings.stream_maxlen, settings.join_ttl_seconds)
        self.lander = (
            Lander(self.client, settings.stream, settings.group, settings.consumer, settings.output,
                   settings.max_file_rows, settings.max_file_age_seconds)
            if settings.land else None
        )  # fmt: skip
        self.stopping = asyncio.Event()

    async def event(self, request: Request) -> Response:
        from redis.exceptions import RedisError

        body = await request.body()
        if len(body) > self.settings.max_body_bytes:
            return json_response(
                {"error": f"event is {len(body)} bytes; the limit is {self.settings.max_body_bytes}"}, 413
            )
        try:
            outcome = await self.receiver.take(dict(request.headers), body)
        except BadEvent as error:
            return json_response({"error": str(error)}, 400)
        except (RedisError, OSError) as error:
            log.warning("cannot store an event: %s", error)
            return json_response({"error": f"the event stream (Redis) is unavailable: {error}"}, 503)
        return json_response({"status": outcome}, 202)

    async def ready(self, request: Request) -> Response:
        return await redis_readiness(self.client)

    async def live(self, request: Request) -> Response:
        return json_response({"live": True})

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(self._land()) if self.lander else None
        yield
        self.stopping.set()
        if task:
            await task
        await self.client.aclose()

    async def _land(self) -> None:
        """The lander, kept running through Redis outages."""
        from redis.exceptions import RedisError

        assert self.lander is not None
        while not self.stopping.is_set():
            try:
                await self.lander.run(self.stopping)
            except (RedisError, OSError) as error:
                log.warning("landing paused (%s); retrying in 1 s", error)
                await asyncio.sleep(1)
            except Exception:
                log.exception("landing failed; retrying in 5 s")
                await asyncio.sleep(5)

    def app(self) -> Starlette:
        routes = [Route("/v2/health/live", self.live), Route("/v2/health/ready", self.ready)]
        if self.settings.receive:
            routes.insert(0, Route("/", self.event, methods=["POST"]))
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
