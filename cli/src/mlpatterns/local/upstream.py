"""HTTP/1.1 to the local processes, for the gateway: a pool of kept-alive connections per address,
each request written in one piece and its answer parsed by httptools (the parser uvicorn uses).
Failures say what Envoy's retry_on names them: connect-failure, reset, or a timeout."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import httptools

# Request headers a proxy does not pass on (RFC 9110 section 7.6.1), and those it writes itself.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
                        "trailer", "host", "content-length"})  # fmt: skip
MAX_IDLE = 128


class UpstreamFailed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # connect-failure, reset, timeout


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    keep_alive: bool = True


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: Answer | None = None
        self.chunks: list[bytes] = []
        self.done: asyncio.Future[Answer] | None = None
        self.closed = False

    # -- asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are Transports, not subclasses

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(UpstreamFailed("reset", f"the answer is not HTTP ({error})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(UpstreamFailed("reset", "the connection closed before the answer was complete"))

    # -- httptools

    def on_message_begin(self) -> None:
        self.answer = Answer(0)
        self.chunks = []

    def on_status(self, status: bytes) -> None:
        return None

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.answer is not None
        self.answer.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        assert self.answer is not None
        self.answer.status = self.parser.get_status_code()
        self.answer.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        assert self.answer is not None
        self.answer.body = b"".join(self.chunks)
        if self.done is not None and not self.done.done():
            self.done.set_result(self.answer)

    def _fail(self, error: UpstreamFailed) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(error)

    async def exchange(self, request: bytes) -> Answer:
        assert self.transport is not None
        self.done = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.done

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Upstream:
    """One address (127.0.0.1:port) and its idle connections."""

    def __init__(self, address: str) -> None:
        self.address = address
        host, _, port = address.rpartition(":")
        self.host, self.port = host, int(port)
        self.idle: list[_Connection] = []

    async def request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, seconds: float
    ) -> Answer:
        head = [f"{method} {target} HTTP/1.1\r\nhost: {self.address}\r\ncontent-length: {len(body)}\r\n"]
        head += [f"{name}: {value}\r\n" for name, value in headers if name not in HOP_BY_HOP]
        request = "".join(head).encode("latin-1") + b"\r\n" + body
        connection, reused = await self._connection(seconds)
        try:
            answer = await self._exchange(connection, request, seconds)
        except UpstreamFailed as failed:
            if not (reused and failed.reason == "reset"):
                raise
            # A kept-alive connection the server closed as it was reused: once more, on a new one.
            connection, _ = await self._connection(seconds, reuse=False)
            answer = await self._exchange(connection, request, seconds)
        if answer.keep_alive and not connection.closed and len(self.idle) < MAX_IDLE:
            self.idle.append(connection)
        else:
            connection.close()
        return answer

    async def _exchange(self, connection: _Connection, request: bytes, seconds: float) -> Answer:
        try:
            async with asyncio.timeout(seconds):  # no task of its own, unlike wait_for on 3.11
                return await connection.exchange(request)
        except TimeoutError:
            connection.close()
            raise UpstreamFailed("timeout", f"{self.address} did not answer within {seconds:g} s") from None
        except BaseException:
            connection.close()
            raise

    async def _connection(self, seconds: float, reuse: bool = True) -> tuple[_Connection, bool]:
        while reuse and self.idle:
            connection = self.idle.pop()
            if not connection.closed:
                return connection, True
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(seconds):
                _, protocol = await loop.create_connection(_Connection, self.host, self.port)
        except (OSError, TimeoutError) as error:
            raise UpstreamFailed("connect-failure", f"{self.address}: {error or 'timed out'}") from None
        return protocol, False

    def close(self) -> None:
        for connection in self.idle:
            with contextlib.suppress(Exception):
                connection.close()
        self.idle.clear()
