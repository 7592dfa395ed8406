"""The gateway's HTTP/1.1 server side: requests parsed by httptools as they arrive, answered in
order per connection (pipelined requests wait their turn), each answer written in one piece
(uvicorn writes a head and a body, two system calls per answer, which on loopback is most of a
proxy's cost). Kept-alive connections, `Expect: 100-continue`, and back-pressure: a connection
with many requests waiting is not read until they are answered."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import httptools

MAX_WAITING = 64
MAX_BODY = 64 * 1024 * 1024
REASONS = {status.value: status.phrase for status in HTTPStatus}


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool = True


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


Handler = Callable[[Request], Awaitable[Response]]


def encode(response: Response, keep_alive: bool) -> bytes:
    head = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}\r\n".encode()]
    head += [name + b": " + value + b"\r\n" for name, value in response.headers]
    head.append(b"content-length: %d\r\n" % len(response.body))
    if not keep_alive:
        head.append(b"connection: close\r\n")
    return b"".join(head) + b"\r\n" + response.body


class HttpServerProtocol(asyncio.Protocol):
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[Request] = deque()
        self.serving: asyncio.Task[None] | None = None
        self.paused = False
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0

    # -- asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are Transports, not subclasses

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400, b'{"error": "upgrades are not served by the local gateway"}')
        except httptools.HttpParserError:
            self._refuse(400, b'{"error": "the request is not valid HTTP/1.1"}')

    def connection_lost(self, exc: Exception | None) -> None:
        if self.serving is not None:
            self.serving.cancel()

    # -- httptools

    def on_message_begin(self) -> None:
        self._url, self._headers, self._body, self._size = b"", {}, [], 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]},{text}" if key in self._headers else text

    def on_headers_complete(self) -> None:
        if self._headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size <= MAX_BODY:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._size > MAX_BODY:
            self._refuse(413, b'{"error": "the request body is over 64 MiB"}')
            return
        url = httptools.parse_url(self._url)
        request = Request(
            self.parser.get_method().decode("ascii"), (url.path or b"/").decode("latin-1"),
            (url.query or b"").decode("latin-1"), self._headers, b"".join(self._body), self.parser.should_keep_alive(),
        )  # fmt: skip
        self.waiting.append(request)
        if len(self.waiting) >= MAX_WAITING and self.transport is not None and not self.paused:
            self.transport.pause_reading()
            self.paused = True
        if self.serving is None:
            self.serving = asyncio.get_running_loop().create_task(self._serve())

    # -- answers

    async def _serve(self) -> None:
        try:
            while self.waiting:
                request = self.waiting.popleft()
                response = await self.handler(request)
                if self.transport is None or self.transport.is_closing():
                    return
                self.transport.write(encode(response, request.keep_alive))
                if not request.keep_alive:
                    self.transport.close()
                    return
                if self.paused and len(self.waiting) < MAX_WAITING // 2:
                    self.transport.resume_reading()
                    self.paused = False
        finally:
            self.serving = None

    def _refuse(self, status: int, body: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            response = Response(status, [(b"content-type", b"application/json")], body)
            self.transport.write(encode(response, keep_alive=False))
            self.transport.close()


async def serve(handler: Handler, host: str, port: int, stopping: asyncio.Event) -> None:
    """Serve until `stopping` is set, then let the answers under way finish (briefly)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpServerProtocol(handler), host, port, reuse_address=True)
    async with server:
        await stopping.wait()
        server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await server.wait_closed()
