"""The background task a front-end with state lives for (the lander, the comparison): when it dies,
the process is not ready at once and, after a grace period, not live either, so Kubernetes stops
sending to it and restarts it instead of leaving it answering ready while nothing is read."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

# How long a process whose task died still answers live: time to read its log and /metrics first.
GRACE_SECONDS = 30.0


class WorkerTask:
    def __init__(self, name: str, grace_seconds: float = GRACE_SECONDS) -> None:
        self.name = name
        self.grace_seconds = grace_seconds
        self.task: asyncio.Task[None] | None = None
        self.died: tuple[float, str] | None = None

    def start(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        self.task = asyncio.create_task(work, name=self.name)
        self.task.add_done_callback(self._ended)
        return self.task

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        self.died = (time.monotonic(), f"{type(error).__name__}: {error}")
        log.error("the %s task died; the process is no longer ready", self.name, exc_info=error)

    def problem(self) -> str | None:
        """Why the process is not ready (None: its task runs)."""
        return None if self.died is None else f"the {self.name} task died: {self.died[1]}"

    def past_grace(self) -> bool:
        return self.died is not None and time.monotonic() - self.died[0] >= self.grace_seconds
