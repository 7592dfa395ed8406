"""Receive a request body within bounds: its size (413), the time it takes to arrive (408), and the
bytes of bodies one worker receives at once (503), so a few slow or half-sent uploads cannot pin
the server's memory. A client that leaves mid-body is a 499, as nginx counts it, not a fault."""

from __future__ import annotations

import asyncio

from starlette.types import Receive

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


async def read_body(
    receive: Receive, declared: str | None, max_bytes: int, timeout_seconds: float, budget: BodyBudget
) -> bytes:
    """The body of one request, from the ASGI `receive` of its connection; `declared` is its
    content-length header, if it has one."""
    expected = int(declared) if declared is not None and declared.isdigit() else 0
    if expected > max_bytes:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {max_bytes} (--max_body_bytes)")
    budget.take(expected)  # what the client announced, at once; a chunked body takes as it comes
    taken, size, chunks = expected, 0, []

    async def receive_all() -> None:
        nonlocal taken, size
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone(f"the client closed the connection after sending {size} bytes of its body")
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"request body exceeds the limit of {max_bytes} bytes (--max_body_bytes)")
            if size > taken:
                budget.take(size - taken)
                taken = size
            chunks.append(chunk)

    try:
        if _arrived(receive):
            await receive_all()
        else:
            async with asyncio.timeout(timeout_seconds):
                await receive_all()
    except TimeoutError:
        raise RequestTimeout(
            f"the request body did not arrive within {timeout_seconds:g} seconds (received {size} bytes)"
        ) from None
    finally:
        budget.give_back(taken)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _arrived(receive: Receive) -> bool:
    """Whether uvicorn has the whole body already (the usual case for a small request), so reading it
    cannot wait and needs no timer; any other server's receive is timed."""
    cycle = getattr(receive, "__self__", None)
    return getattr(cycle, "more_body", True) is False
