"""The one definition of a prediction-log event, checked by everything that reads the stream (the
lander, the comparison) and by the collector at receipt. `PredictionEvent.to_json` writes it; a
test holds the two together. An entry that fails is a dead letter, never a stopped reader."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import orjson

# Field -> (the JSON types it may have, how the error names them).
FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "request_id": ((str,), "a string"),
    "model": ((str,), "a string"),
    "version": ((str,), "a string"),
    "role": ((str,), "a string"),
    "inputs": ((dict,), "an object of named tensors"),
    "outputs": ((dict,), "an object of named tensors"),
    "latency_ms": ((int, float), "a number"),
    "timestamp": ((str,), "an ISO 8601 time"),
}
# Bounded: they are the `reason` label of mlpatterns_dead_letters_total.
REASONS = ("not_json", "not_an_object", "missing_field", "wrong_type")


class InvalidEvent(ValueError):
    """What is wrong with an event, and where: `reason` is one of REASONS, the message names the field."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse(raw: bytes) -> dict[str, Any]:
    """The event in `raw`, checked; InvalidEvent says what is wrong."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidEvent("not_json", f"the event is not JSON: {error}") from None
    return check(document)


def check(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidEvent("not_an_object", f"the event is a JSON {type(document).__name__}, not an object")
    missing = [name for name in FIELDS if name not in document]
    if missing:
        raise InvalidEvent("missing_field", f"the event has no {', '.join(missing)}")
    for name, (types, described) in FIELDS.items():
        value = document[name]
        if not isinstance(value, types) or isinstance(value, bool):
            raise InvalidEvent("wrong_type", f"{name} is {_shown(value)}, not {described}")
    if not document["request_id"] or not document["model"]:
        raise InvalidEvent("wrong_type", f"{'request_id' if not document['request_id'] else 'model'} is empty")
    if not math.isfinite(document["latency_ms"]) or document["latency_ms"] < 0:
        raise InvalidEvent("wrong_type", f"latency_ms is {document['latency_ms']}, not a finite number >= 0")
    try:
        when = datetime.fromisoformat(document["timestamp"])
    except ValueError:
        shown = _shown(document["timestamp"])
        raise InvalidEvent("wrong_type", f"timestamp is {shown}, not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise InvalidEvent("wrong_type", f"timestamp {document['timestamp']!r} has no time zone")
    return document


def _shown(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 40 else f"{text[:37]}..."
