"""A write-ahead file for prediction-log events, so that events accepted but not yet sent survive
a crash of the worker. Each worker appends to its own file and holds a lock on it while it lives;
a worker that starts takes over the files whose lock is free (their writer died) and sends what
they still hold. Delivery is at-least-once: consumers de-duplicate on request_id.

A file holds what the buffer holds: it starts afresh whenever everything was sent, and when a sink
that never quite catches up has let `COMPACT_BYTES` of sent events pile up in front, it is
rewritten with only the unsent ones."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import uuid
from pathlib import Path

import orjson

log = logging.getLogger(__name__)

SEGMENT_GLOB = "events-*.jsonl"
COMPACT_BYTES = 8 * 1024 * 1024


class Spool:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / f"events-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._offset_fd = os.open(_offset_path(self.path), os.O_CREAT | os.O_WRONLY, 0o600)
        self._written = 0
        self._sent = 0

    def append(self, payload: bytes) -> None:
        # One unbuffered write: once it returns, the event is in the kernel and outlives us.
        self._written += os.write(self._fd, payload + b"\n")

    def mark_sent(self, payloads: list[bytes]) -> None:
        """The oldest unsent events were delivered; move the checkpoint past them."""
        self._sent += sum(len(payload) + 1 for payload in payloads)
        if self._sent >= self._written:  # all caught up: start the file afresh
            os.ftruncate(self._fd, 0)
            self._written = self._sent = 0
        elif self._sent >= COMPACT_BYTES:
            self._compact()
            return
        os.pwrite(self._offset_fd, str(self._sent).encode().ljust(20), 0)

    def _compact(self) -> None:
        """Replace the file with its unsent events. The checkpoint is reset before the new file
        takes the old one's name: a crash in between resends events, it never loses any."""
        with self.path.open("rb") as reader:
            reader.seek(self._sent)
            unsent = reader.read(self._written - self._sent)
        fresh = self.directory / f"compact-{uuid.uuid4().hex[:8]}.tmp"
        fd = os.open(fresh, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, unsent)
        os.pwrite(self._offset_fd, b"0".ljust(20), 0)
        os.replace(fresh, self.path)
        os.close(self._fd)
        self._fd, self._written, self._sent = fd, len(unsent), 0

    def close(self) -> None:
        """Remove the file when everything was sent; otherwise leave it for the next worker."""
        pending = self._written > self._sent
        os.close(self._offset_fd)
        os.close(self._fd)
        if not pending:
            self.path.unlink(missing_ok=True)
            _offset_path(self.path).unlink(missing_ok=True)

    def adopt_orphans(self) -> list[bytes]:
        """Events left unsent by workers that died, oldest first; their files are removed once
        the events are safe in this worker's own file."""
        adopted: list[bytes] = []
        for path in sorted(self.directory.glob(SEGMENT_GLOB)):
            if path == self.path:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its worker is alive
                os.close(fd)
                continue
            try:
                events = _unsent(path, fd)
                for payload in events:
                    self.append(payload)
                adopted.extend(events)
                if events:
                    log.warning("prediction log: recovered %d unsent events from %s", len(events), path.name)
                path.unlink(missing_ok=True)
                _offset_path(path).unlink(missing_ok=True)
            finally:
                os.close(fd)
        return adopted


def _offset_path(path: Path) -> Path:
    return path.with_suffix(".offset")


def _unsent(path: Path, fd: int) -> list[bytes]:
    offset = 0
    with contextlib.suppress(FileNotFoundError, ValueError):
        offset = int(_offset_path(path).read_bytes().strip() or b"0")
    with os.fdopen(os.dup(fd), "rb") as handle:
        handle.seek(offset)
        lines = [line for line in handle.read().split(b"\n") if line]
    if lines:
        try:
            orjson.loads(lines[-1])
        except orjson.JSONDecodeError:  # the writer died in the middle of its last write
            lines.pop()
    return lines
