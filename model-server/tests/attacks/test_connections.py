"""Attacks on the connection layer, each against a real server process: pipelining without reading
the answers, trickled or oversized headers, bodies that never finish, many large bodies at once,
a client that leaves mid-body. Each asserts the answer (status and message), that memory stays
bounded, and that the next good request is served."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.model_server import Iris, Server, ServerFactory
from tests.support.raw_http import closed_by_server, connect, read_response, request_bytes, rss_mb

ROW = [5.1, 3.5, 1.4, 0.2]
BODY = b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
PREDICT = "/v1/models/iris:predict"


def metric(server: Server, prefix: str) -> float:
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def serves(server: Server) -> bool:
    return httpx.post(server.predict_url, json={"instances": [ROW]}, timeout=30).status_code == 200


@pytest.fixture(scope="module")
def limited(iris: Iris, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with short timeouts and small limits, so each attack is quick to run."""
    factory = ServerFactory(tmp_path_factory.mktemp("limited"))
    yield factory(
        "--model_dir", str(iris.joblib_dir), "--header_timeout_seconds", "1", "--body_timeout_seconds", "1",
        "--max_body_bytes", "4194304", "--max_bodies_in_flight_bytes", "8388608",
    )  # fmt: skip
    factory.close()


def test_pipelining_without_reading_the_answers_holds_memory_flat(limited: Server) -> None:
    before = rss_mb(limited.process.pid)
    flood = memoryview(request_bytes(PREDICT, BODY) * 200_000)  # 26 MB of requests on one connection
    sock = connect(limited.url, timeout=0.2)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and never read the answers
    sent, deadline = 0, time.monotonic() + 8
    while sent < len(flood) and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):  # the server stopped reading: back-pressure
            sent += sock.send(flood[sent : sent + 65536])
    assert sent < len(flood), "the server should stop reading a connection whose answers are not read"
    assert rss_mb(limited.process.pid) - before < 100
    sock.close()
    assert serves(limited)


def test_pipelined_requests_beyond_the_queue_are_all_answered_in_order(limited: Server) -> None:
    with connect(limited.url) as sock:
        sock.sendall(b"".join(request_bytes(PREDICT, BODY, {"x-request-id": f"p-{i}"}) for i in range(400)))
        answers = [read_response(sock) for _ in range(400)]
    assert [a.headers["x-request-id"] for a in answers if a] == [f"p-{i}" for i in range(400)]
    assert {a.status for a in answers if a} == {200}


def test_headers_that_never_finish_are_answered_408(limited: Server) -> None:
    refused = metric(limited, 'mlpatterns_http_refused_total{reason="header_timeout"}')
    with connect(limited.url) as sock:
        sock.sendall(b"POST /v1/models/iris:predict HTTP/1.1\r\nHost: test\r\nContent-Le")
        answer = read_response(sock)
        assert answer is not None
        assert (answer.status, answer.json()) == (
            408, {"error": "the request headers did not arrive within 1 seconds"}
        )  # fmt: skip
        assert closed_by_server(sock)
    with connect(limited.url) as idle:  # a connection that never sends anything is held to the same bound
        assert read_response(idle).status == 408  # type: ignore[union-attr]
    assert metric(limited, 'mlpatterns_http_refused_total{reason="header_timeout"}') == refused + 2
    assert serves(limited)


def test_oversized_headers_are_answered_431(limited: Server) -> None:
    with connect(limited.url) as sock:
        sock.sendall(request_bytes(PREDICT, BODY, {"x-request-id": "r" * 10_000_000}))
        answer = read_response(sock)
    assert answer is not None
    assert answer.status == 431
    assert answer.json() == {"error": "the request line and headers exceed 16384 bytes"}
    assert metric(limited, 'mlpatterns_http_refused_total{reason="headers_too_large"}') >= 1
    assert serves(limited)


def test_a_request_id_that_is_not_an_id_is_replaced_not_echoed(limited: Server) -> None:
    long_id = "x" * 200
    answer = httpx.post(limited.predict_url, json={"instances": [ROW]}, headers={"x-request-id": long_id})
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] != long_id
    assert len(answer.headers["x-request-id"]) == 32
    kept = httpx.post(limited.predict_url, json={"instances": [ROW]}, headers={"x-request-id": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"


def test_a_body_that_never_finishes_is_answered_408(limited: Server) -> None:
    with connect(limited.url) as sock:
        sock.sendall(request_bytes(PREDICT, BODY)[:-10])  # ten bytes short of its Content-Length
        answer = read_response(sock)
        assert answer is not None
        assert answer.status == 408
        assert answer.json()["error"].startswith("the request body did not arrive within 1 seconds (received ")
        assert closed_by_server(sock)
    assert metric(limited, 'mlpatterns_requests_total{code="408"') >= 1
    assert serves(limited)


def test_many_large_bodies_at_once_are_refused_beyond_the_budget(limited: Server) -> None:
    """16 clients each send a 4 MB body one byte short and wait: the 8 MB budget admits two; the
    others are answered 503 at once, and the two 408 when their time is up."""
    before = rss_mb(limited.process.pid)
    busy_before = metric(limited, 'mlpatterns_requests_total{code="503"')
    late_before = metric(limited, 'mlpatterns_requests_total{code="408"')
    body = b"[" + b"0" * (4_194_304 - 2) + b"]"
    sockets = []
    for _ in range(16):
        sock = connect(limited.url)
        with contextlib.suppress(OSError):  # a refused upload is cut short by the server's close
            sock.sendall(request_bytes(PREDICT, body)[:-1])
        sockets.append(sock)
    with connect(limited.url) as late:  # headers only: the refusal is read whole
        late.sendall(request_bytes(PREDICT, body).split(b"\r\n\r\n")[0] + b"\r\n\r\n")
        answer = read_response(late)
    assert answer is not None
    assert answer.status == 503
    assert answer.json()["error"].endswith("(the limit is 8388608, --max_bodies_in_flight_bytes); retry shortly")
    deadline = time.monotonic() + 10
    while metric(limited, 'mlpatterns_requests_total{code="408"') < late_before + 2:
        assert time.monotonic() < deadline, "the two admitted bodies should time out"
        time.sleep(0.1)
    assert metric(limited, 'mlpatterns_requests_total{code="503"') == busy_before + 15
    assert rss_mb(limited.process.pid) - before < 100
    for sock in sockets:
        sock.close()
    assert serves(limited)


def test_a_client_that_leaves_mid_body_is_a_499_not_a_fault(limited: Server) -> None:
    closed_before = metric(limited, 'mlpatterns_requests_total{code="499"')
    with connect(limited.url) as sock:
        sock.sendall(request_bytes(PREDICT, BODY)[:-10])
    deadline = time.monotonic() + 10
    while metric(limited, 'mlpatterns_requests_total{code="499"') == closed_before:
        assert time.monotonic() < deadline, "the departure was not counted as 499"
        time.sleep(0.05)
    assert 'code="500"' not in httpx.get(f"{limited.url}/metrics").text
    assert "Traceback" not in limited.process.logs()
    assert serves(limited)


def test_slow_clients_do_not_hold_the_server(limited: Server) -> None:
    """Slowloris: 50 connections trickling headers; a normal client is served meanwhile, and the
    trickling connections are closed."""
    stop = threading.Event()
    sockets = [connect(limited.url) for _ in range(50)]

    def trickle() -> None:
        while not stop.is_set():
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.send(b"X")
            time.sleep(0.2)

    sender = threading.Thread(target=trickle)
    for sock in sockets:
        sock.sendall(b"POST /v1/models/iris:predict HTTP/1.1\r\nx-slow: ")
    sender.start()
    try:
        assert serves(limited)
        # Each trickling connection is closed at the header timeout (the sockets wait up to 10 s).
        assert all(closed_by_server(sock) for sock in sockets)
    finally:
        stop.set()
        sender.join()
        for sock in sockets:
            sock.close()
