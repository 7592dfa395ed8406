"""Native threads for predictions made on the event loop. Single requests and micro-batches (up to
32 rows by default) are too small to gain from OpenMP's threads: a HistGradientBoosting predict of
32 rows takes the same time on one thread as on two and twice the CPU, because OpenMP's idle
threads spin after each call, on the cores the event loop, the other workers and the mesh's sidecar
need. OpenMP keeps its thread count per calling thread, so the event loop's predictions get their
own limit while large requests, predicted in a worker thread, keep the library's default."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def limit_this_thread(threads: int) -> None:
    """Let OpenMP regions started from the calling thread use at most `threads` threads (0: no limit)."""
    if threads <= 0:
        return
    from threadpoolctl import threadpool_limits

    # Applied at once and kept: the object is not used as a context manager.
    threadpool_limits(threads, user_api="openmp")
    log.debug("OpenMP limited to %d thread(s) for predictions on the event loop", threads)
