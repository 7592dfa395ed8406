"""The buffer between requests and the sink. Recording never waits: a slow or dead sink only fills
the bounded buffer, and what does not fit is dropped and counted. SIGTERM flushes what is held."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from mlpatterns_server.metrics import ServerMetrics
from mlpatterns_server.predlog.event import PredictionEvent
from mlpatterns_server.predlog.sinks import Sink

log = logging.getLogger(__name__)

BATCH_SIZE = 256
MAX_BACKOFF_SECONDS = 5.0


class PredictionLog:
    def __init__(self, sink: Sink, capacity: int, flush_seconds: float, metrics: ServerMetrics) -> None:
        self.sink = sink
        self.capacity = capacity
        self.flush_seconds = flush_seconds
        self._buffer: deque[PredictionEvent] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        counter = metrics.prediction_log_events
        self._sent = counter.labels(sink=sink.name, result="sent")
        self._dropped = counter.labels(sink=sink.name, result="dropped")
        self._errors = counter.labels(sink=sink.name, result="error")
        self._buffered = metrics.prediction_log_buffered.labels(sink=sink.name)

    def record(self, event: PredictionEvent) -> None:
        if len(self._buffer) >= self.capacity:
            self._dropped.inc()
            return
        self._buffer.append(event)
        if not self._wakeup.is_set():
            self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="prediction-log")

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            if not self._buffer:
                if self._closing:
                    return
                await self._wakeup.wait()
                self._wakeup.clear()
            elif await self._send_batch():
                backoff = 0.1
            else:
                # Wait out the backoff, unless close() wakes us to flush.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), backoff)
                self._wakeup.clear()
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _send_batch(self) -> bool:
        """Send up to one batch; failed events go back to the front. True when all were sent."""
        batch = [self._buffer.popleft() for _ in range(min(BATCH_SIZE, len(self._buffer)))]
        try:
            failed = await self.sink.send(batch)
        except asyncio.CancelledError:
            self._buffer.extendleft(reversed(batch))
            raise
        except Exception as exc:
            log.warning("prediction log: %s sink failed for %d events: %s", self.sink.name, len(batch), exc)
            failed = batch
        self._buffer.extendleft(reversed(failed))
        self._sent.inc(len(batch) - len(failed))
        if failed:
            self._errors.inc(len(failed))
        self._buffered.set(len(self._buffer))
        return not failed

    async def close(self) -> None:
        """Flush what is buffered, for up to flush_seconds; count what is left as dropped."""
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
            log.error("prediction log: dropping %d events the %s sink did not take", len(self._buffer), self.sink.name)
            self._dropped.inc(len(self._buffer))
            self._buffer.clear()
        self._buffered.set(0)
        await self.sink.close()
