"""The gateway's HTTP/1.1 server side on a real socket: pipelined requests answered in order,
`Expect: 100-continue` honoured (curl sends it for bodies over 1 KiB), bytes that are not HTTP
refused with a JSON 400, and a connection that asks to close, closed."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from mlpatterns.local import front


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def echo(request: front.Request) -> front.Response:
    await asyncio.sleep(0.01 if request.path == "/slow" else 0)
    return front.Response(200, [(b"x-path", request.path.encode())], request.body)


@pytest.fixture
def port() -> Iterator[int]:
    chosen = free_port()

    loop = asyncio.new_event_loop()
    stopping = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(front.serve(echo, "127.0.0.1", chosen, stopping),), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while True:  # until it listens
        try:
            socket.create_connection(("127.0.0.1", chosen), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    yield chosen
    loop.call_soon_threadsafe(stopping.set)
    thread.join(10)


def exchange(port: int, data: bytes, until: bytes, count: int = 1) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(data)
        received = b""
        while received.count(until) < count:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    requests = b"".join(
        f"POST /{path} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(path)}\r\n\r\n{path}".encode()
        for path in ("slow", "fast", "last")
    )
    answers = exchange(port, requests, b"HTTP/1.1 200", 3)
    order = [part.split(b"x-path: ")[1].split(b"\r\n")[0] for part in answers.split(b"HTTP/1.1 200")[1:]]
    assert order == [b"/slow", b"/fast", b"/last"]


def test_expect_100_continue_gets_its_interim_answer(port: int) -> None:
    head = b"POST /big HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 3\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(head)
        assert connection.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        connection.sendall(b"abc")
        answer = connection.recv(1024)
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert answer.endswith(b"abc")


def test_what_is_not_http_is_refused_and_close_is_honoured(port: int) -> None:
    refused = exchange(port, b"\x16\x03\x01 not http\r\n\r\n", b"}")
    assert refused.startswith(b"HTTP/1.1 400 Bad Request")
    assert b'"error": "the request is not valid HTTP/1.1"' in refused
    closing = exchange(port, b"GET /bye HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n", b"\r\n\r\n")
    assert b"connection: close" in closing
