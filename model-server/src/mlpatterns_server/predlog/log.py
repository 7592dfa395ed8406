"""The buffer between requests and the sink. Recording never waits on the sink: a slow or dead
sink only fills the buffer, bounded in bytes, and a new event that does not fit is dropped and
counted (what is held was accepted earlier and stays). Accepted events are written ahead to a
spool file, so a crashed worker's events are sent by its successor; SIGTERM flushes what is held.

The sink is probed at start. While it fails, the sender backs off (up to 5 s) whatever the
traffic, logs the state change once (unreachable, then back), and counts each event that failed
once, not each attempt; the buffered gauge shows what waits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from mlpatterns_server.metrics import ServerMetrics
from mlpatterns_server.predlog.event import PredictionEvent
from mlpatterns_server.predlog.sinks import Sink
from mlpatterns_server.predlog.spool import Spool

log = logging.getLogger(__name__)

BATCH_SIZE = 256
MAX_BACKOFF_SECONDS = 5.0


class PredictionLog:
    def __init__(
        self, sink: Sink, capacity_bytes: int, flush_seconds: float, metrics: ServerMetrics, spool: Spool | None = None
    ) -> None:
        self.sink = sink
        self.capacity_bytes = capacity_bytes
        self.flush_seconds = flush_seconds
        self.spool = spool
        self._buffer: deque[bytes] = deque()
        self._bytes = 0
        # How many events at the front of the buffer have already been counted as failed.
        self._counted_failed = 0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._reachable = True
        counter = metrics.prediction_log_events
        self._sent = counter.labels(sink=sink.name, result="sent")
        self._dropped = counter.labels(sink=sink.name, result="dropped")
        self._errors = counter.labels(sink=sink.name, result="error")
        self._buffered = metrics.prediction_log_buffered.labels(sink=sink.name)

    def record(self, event: PredictionEvent) -> None:
        # orjson's bytes keep the 4 KiB buffer they were written into: held as it is, a 300-byte
        # event would cost 4 KiB while the sink is down. A copy costs its own size.
        payload = bytes(memoryview(event.to_json()))
        if self._bytes + len(payload) > self.capacity_bytes:
            self._dropped.inc()
            return
        if self.spool is not None:
            self.spool.append(payload)
        self._hold(payload)
        # While the sink is down the sender waits out its backoff: new events do not cut it short.
        if self._reachable and not self._wakeup.is_set():
            self._wakeup.set()

    @property
    def held_bytes(self) -> int:
        return self._bytes

    @property
    def held_events(self) -> int:
        return len(self._buffer)

    def _hold(self, payload: bytes) -> None:
        self._buffer.append(payload)
        self._bytes += len(payload)

    def start(self) -> None:
        if self.spool is not None:
            # A dead worker's events were accepted: they are held even beyond the capacity.
            for payload in self.spool.adopt_orphans():
                self._hold(payload)
        self._buffered.set(len(self._buffer))
        self._task = asyncio.create_task(self._run(), name="prediction-log")

    async def _run(self) -> None:
        try:
            await self.sink.check()
        except Exception as exc:
            self._unreachable(exc)
        backoff = 0.1
        while True:
            if self._buffer and await self._send_batch():
                backoff = 0.1
                continue
            if self._closing and not self._buffer:
                return
            if self._reachable and not self._buffer:
                await self._wakeup.wait()
            else:
                # The sink is down: wait out the backoff (close() cuts it short to flush).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            self._wakeup.clear()

    async def _send_batch(self) -> bool:
        """Send the oldest events; they leave the buffer only once the sink has them."""
        batch = [self._buffer[i] for i in range(min(BATCH_SIZE, len(self._buffer)))]
        try:
            await self.sink.send(batch)
        except Exception as exc:
            self._unreachable(exc)
            log.debug("prediction log: %s sink failed for %d events: %s", self.sink.name, len(batch), exc)
            if len(batch) > self._counted_failed:
                self._errors.inc(len(batch) - self._counted_failed)
                self._counted_failed = len(batch)
            self._buffered.set(len(self._buffer))
            return False
        self._counted_failed = max(0, self._counted_failed - len(batch))
        if not self._reachable:
            self._reachable = True
            log.info("prediction log: the %s sink (%s) is reachable again; sending the %d held events",
                     self.sink.name, self.sink.target, len(self._buffer))  # fmt: skip
        for _ in batch:
            self._bytes -= len(self._buffer.popleft())
        if self.spool is not None:
            self.spool.mark_sent(batch)
        self._sent.inc(len(batch))
        self._buffered.set(len(self._buffer))
        return True

    def _unreachable(self, exc: Exception) -> None:
        if not self._reachable:
            return
        self._reachable = False
        held = (
            f"kept in the spool {self.spool.directory}"
            if self.spool
            else f"held in memory (up to {self.capacity_bytes} bytes)"
        )
        log.warning(
            "prediction log: the %s sink (%s) is unreachable (%s); events are %s and sent when it is back",
            self.sink.name, self.sink.target, exc or type(exc).__name__, held,
        )  # fmt: skip

    async def close(self) -> None:
        """Flush what is buffered, for up to flush_seconds. What is left stays in the spool for
        the next worker (or, without a spool, is counted as dropped)."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.flush_seconds)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._buffer:
            if self.spool is not None:
                log.error(
                    "prediction log: %d events the %s sink did not take stay in %s for the next start",
                    len(self._buffer),
                    self.sink.name,
                    self.spool.path,
                )
            else:
                log.error(
                    "prediction log: dropping %d events the %s sink did not take", len(self._buffer), self.sink.name
                )
                self._dropped.inc(len(self._buffer))
        self._buffered.set(0)
        if self.spool is not None:
            self.spool.close()
        await self.sink.close()
