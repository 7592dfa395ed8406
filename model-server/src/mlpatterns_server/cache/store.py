"""The cache's Redis, on the request path and so never allowed to slow it or fail it: every call
is bounded by a timeout of a few milliseconds, a failure opens a short pause in which Redis is not
asked at all (requests are predicted as usual), and after the pause the next request tries again,
so caching resumes by itself when Redis is back. Writes are fire-and-forget, and bounded."""

from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger(__name__)

# After a failure, Redis is left alone this long: a Redis that is down costs requests nothing.
PAUSE_SECONDS = 0.5
# Writes waiting for Redis; beyond, answers are simply not cached.
MAX_PENDING_WRITES = 1024
# Connections opened at start and kept: opening one (a handshake of several round trips) inside a
# request's few milliseconds would time out, so requests only ever use open ones.
CONNECTIONS = 8


class CacheUnavailable(Exception):
    """Redis did not answer in time, or failed: the request goes on without the cache."""


class RedisCache:
    def __init__(self, url: str, ttl_seconds: int, max_value_bytes: int, timeout_ms: float) -> None:
        import redis.asyncio
        from redis.asyncio.connection import BlockingConnectionPool
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.timeout = timeout_ms / 1000
        self.ttl_seconds = ttl_seconds
        self.max_value_bytes = max_value_bytes
        # No retries of its own: the request cannot wait for them, and the pause covers outages.
        self.pool = BlockingConnectionPool.from_url(
            url,
            max_connections=CONNECTIONS,
            timeout=None,  # waiting for a free connection counts against the request's timeout
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), 0),
        )
        self.client = redis.asyncio.Redis(connection_pool=self.pool)
        self._connected = asyncio.Event()
        # Until the connections are open, requests do not ask Redis (they are predicted as usual).
        self._paused_until = float("inf")
        self._healthy = True
        self._writes: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Open the connections in the background; requests use the cache once they are open."""
        task = asyncio.get_running_loop().create_task(self._connect())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _connect(self) -> None:
        try:
            opening = [self.pool.get_connection() for _ in range(CONNECTIONS)]  # type: ignore[no-untyped-call]
            connections = await asyncio.gather(*opening)
            for connection in connections:
                await self.pool.release(connection)
        except Exception as error:
            self._failed(error)  # retried by the first request after the pause
        else:
            self._paused_until = 0.0
            log.info("prediction cache connected")
        self._connected.set()

    async def connected(self) -> bool:
        """Wait for the first attempt to connect; whether the cache is in use now."""
        await self._connected.wait()
        return time.monotonic() >= self._paused_until

    async def get(self, key: str) -> bytes | None:
        if time.monotonic() < self._paused_until:
            raise CacheUnavailable("paused after a failure")
        try:
            async with asyncio.timeout(self.timeout):
                value = await self.client.get(key)
        except Exception as error:  # a timeout, a refused connection, a Redis error
            self._failed(error)
            raise CacheUnavailable(str(error)) from None
        self._succeeded()
        return value if isinstance(value, bytes) else None

    def put(self, key: str, value: bytes) -> None:
        """Store in the background; the answer does not wait for it."""
        if len(value) > self.max_value_bytes or len(self._writes) >= MAX_PENDING_WRITES:
            return
        if time.monotonic() < self._paused_until:
            return
        task = asyncio.get_running_loop().create_task(self._set(key, value))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _set(self, key: str, value: bytes) -> None:
        try:
            async with asyncio.timeout(max(self.timeout * 10, 0.05)):
                await self.client.set(key, value, ex=self.ttl_seconds)
        except Exception as error:
            self._failed(error)

    def _failed(self, error: BaseException) -> None:
        if self._healthy:
            log.warning("prediction cache unavailable (%s); predicting without it", type(error).__name__ or error)
        self._healthy = False
        self._paused_until = time.monotonic() + PAUSE_SECONDS

    def _succeeded(self) -> None:
        if not self._healthy:
            log.info("prediction cache available again")
            self._healthy = True

    async def close(self) -> None:
        for task in list(self._writes):
            task.cancel()
        await asyncio.gather(*self._writes, return_exceptions=True)
        await self.client.aclose()
