"""Large JSON bodies are decoded in a helper process and predicted in a thread, so that one client's
10 MB of JSON does not stall the event loop: health checks and small requests keep being answered
in milliseconds meanwhile. Parsing JSON (orjson, then NumPy) holds the GIL for its whole length,
about 340 ms for 10 MB here, so a thread would not do; a process does. Bodies under the threshold
take the usual path, untouched. Client mistakes raised in the helper come back as they are."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
PR_SET_PDEATHSIG = 1  # prctl(2)


def _start_helper(server: int) -> None:
    """In the helper, first: die with the server, even one killed with no chance to stop its
    helper (the helper holds both ends of its own task queue, so it would never see the server
    go); then import the decoders."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != server:  # the server died before the line above took effect
        os._exit(0)
    import mlpatterns_server.protocol.v1
    import mlpatterns_server.protocol.v2  # noqa: F401


class Offload:
    def __init__(self, threshold_bytes: int) -> None:
        self.threshold = threshold_bytes
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Ready to decode; the helper process itself starts with the first large request (about
        a second), so servers that never get one never pay for it."""
        if self.threshold > 0:
            self._pool = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_helper, initargs=(os.getpid(),)
            )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def wants(self, size: int) -> bool:
        return self._pool is not None and size > self.threshold

    async def decode(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in the helper process; if the helper died (killed for memory, say),
        a new one is started and this request decoded here."""
        assert self._pool is not None
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)
        except BrokenProcessPool:
            log.warning("the decoding helper process died; starting a new one")
            self.close()
            self.start()
            return function(*args)
