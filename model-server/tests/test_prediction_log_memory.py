"""While the sink is down the prediction log holds events in memory: each costs about its own size
(orjson's output keeps a 4 KiB buffer, so a 300-byte event held as it comes costs 4 KiB), and the
byte cap bounds the total. In-process, with tracemalloc: what the held events allocate."""

from __future__ import annotations

import asyncio
import time
import tracemalloc

import numpy as np

from mlpatterns_server.metrics import ServerMetrics
from mlpatterns_server.predlog.event import PredictionEvent
from mlpatterns_server.predlog.log import PredictionLog

ROWS = np.array([[5.1, 3.5, 1.4, 0.2]] * 4)


class DownSink:
    """A sink that is down (a real one would refuse the connection the same way)."""

    name = "down"
    target = "nowhere"

    async def check(self) -> None:
        raise ConnectionRefusedError("refused")

    async def send(self, events: list[bytes]) -> None:
        raise ConnectionRefusedError("refused")

    async def close(self) -> None:
        return None


def _event(i: int) -> PredictionEvent:
    outputs = {"predict": np.zeros(4, dtype=np.int64)}
    return PredictionEvent(f"{i:032x}", "iris", "1", "primary", {"input-0": ROWS}, outputs, 1.0, time.time())


def test_a_held_event_costs_about_its_own_size() -> None:
    async def hold(count: int) -> tuple[int, int]:
        log = PredictionLog(DownSink(), 64 * 1024 * 1024, 0, ServerMetrics("iris", "1", "primary"))
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(count):
            log.record(_event(i))
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        return held, log.held_bytes

    held, payload = asyncio.run(hold(5000))
    assert held < 2 * payload, f"{held / 5000:.0f} bytes per held event of {payload / 5000:.0f}"


def test_the_byte_cap_bounds_what_is_held() -> None:
    async def hold() -> tuple[int, int]:
        log = PredictionLog(DownSink(), 100_000, 0, ServerMetrics("iris", "1", "primary"))
        for i in range(5000):
            log.record(_event(i))
        return log.held_bytes, log.held_events

    held_bytes, held_events = asyncio.run(hold())
    assert held_bytes <= 100_000
    assert 0 < held_events < 5000
