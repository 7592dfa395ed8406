"""HTTP/1.1 connections a client cannot use to take the server's memory or hold it open: uvicorn's
httptools protocol with limits.

- Pipelining: uvicorn parses every request a read brings and resumes reading after each answer and
  whenever a handler reads a body, even with requests still queued, so a client that pipelines
  without reading the answers grows the queue without bound. Here bytes are parsed a piece at a
  time and only while fewer than `max_pipelined` requests wait; the rest stay unparsed (one read,
  at most) and reading stays paused until the queue drains: back-pressure, with every request
  answered in order.
- Headers: the request line and headers may hold `max_header_bytes` (431 beyond), and must arrive
  within `header_timeout_seconds` of the request's first byte, or of the connection's opening
  (408), so trickled headers or an idle connection cannot hold a slot.
- Bytes that are not HTTP/1.1 get a JSON 400 like every other refusal, not uvicorn's plain text.

Refusals are answered with the server's JSON error body, `connection: close`, and counted
(`mlpatterns_http_refused_total{reason}`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mlpatterns_server.protocol.jsonio import dump_json

__all__ = ["ClientGoneGuard", "ConnectionLimits", "GuardedHttpToolsProtocol", "configure"]


# Bytes parsed at once: small enough that one piece queues a bounded number of requests.
PARSE_PIECE = 64 * 1024


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int = 16 * 1024
    header_timeout_seconds: float = 10.0
    max_pipelined: int = 128


_REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}


def _uncounted(reason: str) -> None:
    return None


_limits = ConnectionLimits()
_refused: Callable[[str], None] = _uncounted


def configure(limits: ConnectionLimits, on_refused: Callable[[str], None]) -> None:
    """Set this process's limits and the counter of refusals (the app does it when it is created)."""
    global _limits, _refused
    _limits, _refused = limits, on_refused


class _Refusal(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


class _GuardedFlow(FlowControl):
    """Reading resumes only when no request waits in the pipeline and every byte read is parsed."""

    def __init__(self, transport: asyncio.Transport, protocol: GuardedHttpToolsProtocol) -> None:
        super().__init__(transport)
        self._protocol = protocol

    def resume_reading(self) -> None:
        if not self._protocol.pipeline and not self._protocol.unparsed:
            super().resume_reading()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unparsed = bytearray()
        # A limit broken inside a parser callback: httptools wraps the exception, uvicorn answers
        # it with send_400_response, which answers this instead.
        self._refusal: _Refusal | None = None
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow = _GuardedFlow(transport, self)
        # An open connection that never sends a request is held to the same bound.
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.unparsed and len(data) <= PARSE_PIECE and len(self.pipeline) < _limits.max_pipelined:
            super().data_received(data)  # the common case: a small read and nothing waiting, parsed as it is
        else:
            self.unparsed += data
            self._parse()

    def _parse(self) -> None:
        """Parse what was read, a piece at a time, while the pipeline has room."""
        while self.unparsed and len(self.pipeline) < _limits.max_pipelined and not self.transport.is_closing():
            piece = bytes(self.unparsed[:PARSE_PIECE])
            del self.unparsed[:PARSE_PIECE]
            super().data_received(piece)
        if self.unparsed:
            self.flow.pause_reading()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that do not parse: ours, in JSON, or the limit that stopped them."""
        refusal, self._refusal = self._refusal, None
        self.unparsed.clear()
        self._refuse(refusal or _Refusal(400, "invalid_http", "the request is not valid HTTP/1.1"))

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.unparsed and not self.transport.is_closing():
            self._parse()
            self.flow.resume_reading()

    # -- headers: size and time

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._start_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > _limits.max_header_bytes:
            message = f"the request line and headers exceed {_limits.max_header_bytes} bytes"
            self._refusal = _Refusal(431, "headers_too_large", message)
            raise self._refusal

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            message = f"the request headers did not arrive within {_limits.header_timeout_seconds:g} seconds"
            self._refuse(_Refusal(408, "header_timeout", message))

    def _start_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(_limits.header_timeout_seconds, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    # -- answers to refused requests

    def _refuse(self, refusal: _Refusal) -> None:
        _refused(refusal.reason)
        body = dump_json({"error": refusal.message})
        head = (
            f"HTTP/1.1 {refusal.status} {_REASONS[refusal.status]}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        if not self.transport.is_closing():
            self.transport.write(head.encode("ascii") + body)
            self.transport.close()


class ClientGoneGuard:
    """An ASGI wrapper for one case uvicorn leaves to the application: an answer written to a
    connection the client has just reset (typically pipelined answers queued behind it). uvloop
    raises `RuntimeError(... the handler is closed)` before uvicorn learns the client is gone; that
    client is gone, which is not a server fault and is not worth a traceback per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except RuntimeError as error:
            if "handler is closed" not in str(error):
                raise
