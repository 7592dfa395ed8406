"""Dead letters: a stream entry a reader cannot take goes to `<stream>:dead` with the reason, the
reader and the original entry, is counted and logged once, and the reader goes on. `mlpatterns-server
deadletters` lists them and, after a fix, re-drives them into the stream."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger(__name__)

# The fields a dead letter adds to the original entry's (which it keeps as they were).
REASON, DETAIL, CONSUMER, ENTRY = b"dead_reason", b"dead_detail", b"dead_consumer", b"dead_entry"
ADDED = (REASON, DETAIL, CONSUMER, ENTRY)
# Dead letters kept per stream (approximately: MAXLEN ~), so a flood of bad events cannot fill Redis.
MAX_DEAD_LETTERS = 100_000


def dead_stream(stream: str) -> str:
    return f"{stream}:dead"


def dead_letter_counter(registry: CollectorRegistry) -> Counter:
    return Counter(
        "mlpatterns_dead_letters",
        "Stream entries a reader could not take, moved to <stream>:dead, by reader and reason "
        "(not_json, not_an_object, missing_field, wrong_type, unwritable, unexpected).",
        ["consumer", "reason"],
        registry=registry,
    )


class DeadLetters:
    def __init__(self, client: Any, stream: str, consumer: str, counter: Counter) -> None:
        self.client = client
        self.stream = dead_stream(stream)
        self.consumer = consumer
        self.counter = counter

    async def send(self, entry_id: str, fields: dict[bytes, bytes], reason: str, detail: str) -> None:
        """Keep one entry as a dead letter. The caller acknowledges it after: a reader that stops
        between the two finds it pending again and sends it twice at worst, never loses it."""
        original = {key: value for key, value in fields.items() if key not in ADDED}
        letter = {**original, REASON: reason, DETAIL: detail, CONSUMER: self.consumer, ENTRY: entry_id}
        await self.client.xadd(self.stream, letter, maxlen=MAX_DEAD_LETTERS, approximate=True)
        self.counter.labels(consumer=self.consumer, reason=reason).inc()
        log.warning("%s: entry %s is a dead letter in %s (%s: %s)", self.consumer, entry_id, self.stream, reason,
                    detail)  # fmt: skip
