"""Receive a request body within bounds: its size (413), the time it takes to arrive (408), and the
bytes of bodies one worker receives at once (503), so a few slow or half-sent uploads cannot pin
the server's memory. A client that leaves mid-body is a 499, as nginx counts it, not a fault."""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

from mlpatterns_server.errors import ClientGone, PayloadTooLarge, RequestTimeout, ServerBusy


class BodyBudget:
    """Bytes of request bodies being received at once in this worker (one event loop: no lock)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0

    def take(self, size: int) -> None:
        if self.in_use + size > self.capacity:
            raise ServerBusy(
                f"the server is already receiving {self.in_use} bytes of request bodies (the limit is "
                f"{self.capacity}, --max_bodies_in_flight_bytes); retry shortly"
            )
        self.in_use += size

    def give_back(self, size: int) -> None:
        self.in_use -= size


async def read_body(request: Request, max_bytes: int, timeout_seconds: float, budget: BodyBudget) -> bytes:
    declared = request.headers.get("content-length")
    expected = int(declared) if declared is not None and declared.isdigit() else 0
    if expected > max_bytes:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {max_bytes} (--max_body_bytes)")
    budget.take(expected)  # what the client announced, at once; a chunked body takes as it comes
    taken, size, chunks = expected, 0, []
    try:
        async with asyncio.timeout(timeout_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"request body exceeds the limit of {max_bytes} bytes (--max_body_bytes)")
                if size > taken:
                    budget.take(size - taken)
                    taken = size
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(
            f"the request body did not arrive within {timeout_seconds:g} seconds (received {size} bytes)"
        ) from None
    except ClientDisconnect:
        raise ClientGone(f"the client closed the connection after sending {size} bytes of its body") from None
    finally:
        budget.give_back(taken)
    return b"".join(chunks)
