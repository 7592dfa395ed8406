"""CloudEvents in, stream entries out. KServe's logger sends each prediction as two events with
the same id, the request (`...inference.request`) and the response (`...inference.response`);
they are joined in Redis (so a restart between the two loses nothing) and appended as one entry
once both are in, by one Lua script that also remembers the id for `--join_ttl_seconds`, so a
logger's retry of a delivered event is not appended twice. Our servers' events (http sink) are
whole already and appended as they are, with the same duplicate check. An event is answered 2xx
only once it is in Redis."""

from __future__ import annotations

import time
from typing import Any

import orjson

# KEYS: the pending join, the done marker, the stream. ARGV: half, payload, ttl, maxlen, meta.
_JOIN = """
if redis.call("EXISTS", KEYS[2]) == 1 then return 0 end
if ARGV[1] == "event" then
  redis.call("XADD", KEYS[3], "MAXLEN", "~", ARGV[4], "*", "event", ARGV[2])
  redis.call("SET", KEYS[2], 1, "EX", ARGV[3])
  return 2
end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[2], "meta", ARGV[5])
redis.call("EXPIRE", KEYS[1], ARGV[3])
local request = redis.call("HGET", KEYS[1], "request")
local response = redis.call("HGET", KEYS[1], "response")
if not request or not response then return 1 end
redis.call("XADD", KEYS[3], "MAXLEN", "~", ARGV[4], "*", "request", request, "response", response, "meta", ARGV[5])
redis.call("DEL", KEYS[1])
redis.call("SET", KEYS[2], 1, "EX", ARGV[3])
return 2
"""

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"


class BadEvent(Exception):
    """Not an event this collector can take: say why (answered 400)."""


class Receiver:
    def __init__(self, client: Any, stream: str, maxlen: int, join_ttl_seconds: int) -> None:
        self.client = client
        self.stream = stream
        self.maxlen = maxlen
        self.ttl = join_ttl_seconds
        self._join = client.register_script(_JOIN)

    async def take(self, headers: dict[str, str], body: bytes) -> str:
        """Append (or hold for its partner) one event; returns what happened to it."""
        attributes = _attributes(headers, body)
        payload = attributes.pop("data")
        event_id = attributes.get("id")
        kind = attributes.get("type", "")
        if not event_id:
            raise BadEvent("the event has no id (ce-id header, or 'id' in a structured event)")
        if kind not in (REQUEST_TYPE, RESPONSE_TYPE):
            raise BadEvent(f"event type {kind!r} is not {REQUEST_TYPE} or {RESPONSE_TYPE}")
        ours = _is_ours(payload)
        where = attributes.get("inferenceservicename", "") + "/" + attributes.get("component", "")
        if ours:
            document = orjson.loads(payload)
            half, where = "event", f"{document['model']}/{document['role']}"
        else:
            half = "request" if kind == REQUEST_TYPE else "response"
        key = f"{self.stream}:join:{event_id}:{where}"
        meta = orjson.dumps({**attributes, "received": time.time()})
        done = await self._join(
            keys=[key, key + ":done", self.stream], args=[half, payload, self.ttl, self.maxlen, meta]
        )
        return {0: "duplicate", 1: "held", 2: "appended"}[int(done)]


def _attributes(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/cloudevents+json"):  # structured mode
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise BadEvent(f"the structured event is not JSON: {error}") from None
        if not isinstance(document, dict):
            raise BadEvent("the structured event is not a JSON object")
        data = document.pop("data", None)
        if data is None and "data_base64" in document:
            import base64

            data = base64.b64decode(document.pop("data_base64"))
        attributes: dict[str, Any] = {key: str(value) for key, value in document.items()}
        attributes["data"] = data if isinstance(data, bytes) else orjson.dumps(data)
        return attributes
    attributes = {name[3:]: value for name, value in headers.items() if name.startswith("ce-")}
    if not attributes:
        raise BadEvent("not a CloudEvent: no ce-* headers and not application/cloudevents+json")
    attributes["data"] = body
    return attributes


def _is_ours(payload: bytes) -> bool:
    """Our servers' events carry the whole prediction; KServe's carry one protocol body."""
    if not payload.startswith(b"{") or b'"request_id"' not in payload:
        return False
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    return isinstance(document, dict) and {"request_id", "model", "role", "inputs", "outputs"} <= document.keys()
