"""Where prediction-log events go: a Redis Stream, an HTTP receiver of CloudEvents in the KServe
logger's binary format, or stdout. A sink takes a batch of serialised events and raises if it
could not deliver all of them; the batch is then retried (at-least-once)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import orjson

if TYPE_CHECKING:
    from mlpatterns_server.settings import ServerSettings

SEND_TIMEOUT_SECONDS = 2.0
# KServe's inference logger types its events like this; receivers built for it accept ours.
CLOUDEVENT_TYPE = "org.kubeflow.serving.inference.response"


class Sink(Protocol):
    name: str
    # Where events go, fit for a log line (no credentials).
    target: str

    async def check(self) -> None:
        """Raise if the sink cannot be reached now (a probe at start; sending retries anyway)."""

    async def send(self, events: list[bytes]) -> None: ...

    async def close(self) -> None: ...


class StdoutSink:
    name = "stdout"
    target = "stdout"

    async def check(self) -> None:
        return None

    async def send(self, events: list[bytes]) -> None:
        sys.stdout.buffer.write(b"".join(event + b"\n" for event in events))
        sys.stdout.flush()

    async def close(self) -> None:
        sys.stdout.flush()


class RedisStreamSink:
    name = "redis"

    def __init__(self, url: str, stream: str, maxlen: int) -> None:
        import redis.asyncio

        parsed = urlsplit(url)
        address = parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl()
        self.target = f"stream {stream} at {address}"
        self.stream = stream
        self.maxlen = maxlen
        self.client = redis.asyncio.Redis.from_url(
            url, socket_timeout=SEND_TIMEOUT_SECONDS, socket_connect_timeout=SEND_TIMEOUT_SECONDS
        )

    async def check(self) -> None:
        await self.client.ping()

    async def send(self, events: list[bytes]) -> None:
        async with self.client.pipeline(transaction=False) as pipe:  # one round trip per batch
            for event in events:
                pipe.xadd(self.stream, {"event": event}, maxlen=self.maxlen, approximate=True)
            await pipe.execute()

    async def close(self) -> None:
        await self.client.aclose()


class CloudEventsSink:
    name = "http"
    max_in_flight = 16

    def __init__(self, url: str, namespace: str) -> None:
        import httpx

        self.url = url
        self.target = urlsplit(url)._replace(query="", fragment="").geturl()
        self.namespace = namespace
        self.client = httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS)

    async def check(self) -> None:
        return None  # a CloudEvents receiver need not answer anything but a POST of an event

    async def send(self, events: list[bytes]) -> None:
        for start in range(0, len(events), self.max_in_flight):
            chunk = events[start : start + self.max_in_flight]
            results = await asyncio.gather(*(self._post(event) for event in chunk), return_exceptions=True)
            failures = [result for result in results if isinstance(result, BaseException)]
            if failures:
                raise failures[0]

    async def _post(self, payload: bytes) -> None:
        event = orjson.loads(payload)
        # Binary content mode, with the extension attributes KServe's logger sets.
        headers = {
            "ce-specversion": "1.0",
            "ce-id": event["request_id"],
            "ce-type": CLOUDEVENT_TYPE,
            "ce-source": f"http://localhost/{event['model']}/{event['role']}",
            "ce-time": event["timestamp"],
            "ce-inferenceservicename": event["model"],
            "ce-namespace": self.namespace,
            "ce-component": "predictor",
            "ce-endpoint": event["role"],
            "ce-modelversion": event["version"],
            "content-type": "application/json",
        }
        response = await self.client.post(self.url, content=payload, headers=headers)
        response.raise_for_status()

    async def close(self) -> None:
        await self.client.aclose()


def _redis(settings: ServerSettings) -> Sink:
    return RedisStreamSink(
        settings.prediction_log_redis_url, settings.prediction_log_stream, settings.prediction_log_stream_maxlen
    )


def _cloudevents(settings: ServerSettings) -> Sink:
    assert settings.prediction_log_http_url is not None
    return CloudEventsSink(settings.prediction_log_http_url, settings.namespace)


# The sinks, by the name --prediction_log_sink takes (and the charts' server.predictionLog.sink;
# a test keeps the two agreed).
SINKS: dict[str, Callable[[ServerSettings], Sink]] = {
    "stdout": lambda settings: StdoutSink(),
    "redis": _redis,
    "http": _cloudevents,
}


def make_sink(settings: ServerSettings) -> Sink | None:
    factory = SINKS.get(settings.prediction_log_sink)
    return factory(settings) if factory else None
