"""CloudEvents in, stream entries out. KServe's logger sends each prediction as two events with
the same id, the request (`...inference.request`) and the response (`...inference.response`);
they are joined in Redis (so a restart between the two loses nothing) and appended as one entry
once both are in, by one Lua script, unless the loggers send only one half (`--logger_mode
request|response`: each event is appended alone). Our servers' events (http sink) are whole
already and appended as they are. Each event's state (held, appended, then landed, set by the
lander) is kept per id and component for `--join_ttl_seconds`: it answers GET /v1/events/{id},
and a logger's retry of an event already appended is not appended twice. An event is answered
2xx only once it is in Redis."""

from __future__ import annotations

import time
from typing import Any

import orjson

from mlpatterns_server.predlog.schema import InvalidEvent, check

# KEYS: the event's state (a hash by component), the pending join, the stream.
# ARGV: half (event, request, response), payload, ttl, maxlen, meta, component, alone (1: no join).
_TAKE = """
local state = redis.call("HGET", KEYS[1], ARGV[6])
if state and state ~= "held" then return 0 end
local entry
if ARGV[1] == "event" then
  entry = {"event", ARGV[2]}
elseif ARGV[7] == "1" then
  entry = {ARGV[1], ARGV[2], "meta", ARGV[5]}
else
  redis.call("HSET", KEYS[2], ARGV[1], ARGV[2], "meta", ARGV[5])
  redis.call("EXPIRE", KEYS[2], ARGV[3])
  local request = redis.call("HGET", KEYS[2], "request")
  local response = redis.call("HGET", KEYS[2], "response")
  if not request or not response then
    redis.call("HSET", KEYS[1], ARGV[6], "held")
    redis.call("EXPIRE", KEYS[1], ARGV[3])
    return 1
  end
  entry = {"request", request, "response", response, "meta", ARGV[5]}
  redis.call("DEL", KEYS[2])
end
table.insert(entry, "where")
table.insert(entry, ARGV[6])
redis.call("XADD", KEYS[3], "MAXLEN", "~", ARGV[4], "*", unpack(entry))
redis.call("HSET", KEYS[1], ARGV[6], "appended")
redis.call("EXPIRE", KEYS[1], ARGV[3])
return 2
"""

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"


class BadEvent(Exception):
    """Not an event this collector can take: say why (answered 400)."""


def state_key(stream: str, event_id: str) -> str:
    """The hash of one event id's state, by component: held, appended, landed <file>."""
    return f"{stream}:state:{event_id}"


class Receiver:
    def __init__(self, client: Any, stream: str, maxlen: int, join_ttl_seconds: int, logger_mode: str) -> None:
        self.client = client
        self.stream = stream
        self.maxlen = maxlen
        self.ttl = join_ttl_seconds
        self.alone = logger_mode != "all"
        self._take = client.register_script(_TAKE)

    async def take(self, headers: dict[str, str], body: bytes) -> tuple[str, str]:
        """Append (or hold for its partner) one event; returns its source (kserve or server) and
        what happened to it (appended, held, duplicate)."""
        attributes = _attributes(headers, body)
        payload = attributes.pop("data")
        event_id = attributes.get("id")
        kind = attributes.get("type", "")
        if not event_id:
            raise BadEvent("the event has no id (ce-id header, or 'id' in a structured event)")
        if kind not in (REQUEST_TYPE, RESPONSE_TYPE):
            raise BadEvent(f"event type {kind!r} is not {REQUEST_TYPE} or {RESPONSE_TYPE}")
        where = attributes.get("inferenceservicename", "") + "/" + attributes.get("component", "")
        document = _ours(payload)
        if document is not None:
            source, half, where = "server", "event", f"{document['model']}/{document['role']}"
        else:
            source, half = "kserve", "request" if kind == REQUEST_TYPE else "response"
        meta = orjson.dumps({**attributes, "received": time.time()})
        join = f"{self.stream}:join:{event_id}:{where}"
        done = await self._take(
            keys=[state_key(self.stream, event_id), join, self.stream],
            args=[half, payload, self.ttl, self.maxlen, meta, where, "1" if self.alone else "0"],
        )
        return source, {0: "duplicate", 1: "held", 2: "appended"}[int(done)]

    async def state(self, event_id: str) -> dict[str, dict[str, str]]:
        """What became of the events with this id, by component (empty: none known)."""
        found = await self.client.hgetall(state_key(self.stream, event_id))
        states: dict[str, dict[str, str]] = {}
        for where, value in sorted(found.items()):
            state, _, file = as_text(value).partition(" ")
            states[as_text(where)] = {"state": state, **({"file": file} if file else {})}
        return states


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


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

            try:
                data = base64.b64decode(str(document.pop("data_base64")), validate=True)
            except ValueError as error:
                raise BadEvent(f"data_base64 is not base64: {error}") from None
        attributes: dict[str, Any] = {key: str(value) for key, value in document.items()}
        attributes["data"] = data if isinstance(data, bytes) else orjson.dumps(data)
        return attributes
    attributes = {name[3:]: value for name, value in headers.items() if name.startswith("ce-")}
    if not attributes:
        raise BadEvent("not a CloudEvent: no ce-* headers and not application/cloudevents+json")
    attributes["data"] = body
    return attributes


def _ours(payload: bytes) -> dict[str, Any] | None:
    """Our servers' event, checked (BadEvent names what is wrong); None for KServe's, which carry
    one protocol body. Ours carry the whole prediction: request_id, model, role, inputs, outputs."""
    if not payload.startswith(b"{") or b'"request_id"' not in payload:
        return None
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not (isinstance(document, dict) and {"request_id", "model", "role", "inputs", "outputs"} <= document.keys()):
        return None
    try:
        return check(document)
    except InvalidEvent as error:
        raise BadEvent(f"the prediction-log event is invalid: {error}") from None
