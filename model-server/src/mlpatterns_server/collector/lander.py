"""The stream landed as Parquet: a consumer group reads the events, buffers them by partition
(date, model, version) and writes a file when a partition holds --max_file_rows events or its
first event is --max_file_age_seconds old; the events are acknowledged only once their file is
written and each event's state says `landed <file>`. Files are named by the stream id of their
first event, and a restarted lander first re-reads the events it had not acknowledged, in order:
the partition's first unacknowledged event is the first event of the file it was writing, so the
file is rewritten under the same name, not written twice. At least once in, each event exactly
once in what is landed. An entry that is not a valid event (predlog/schema.py), or a row Parquet
refuses, is a dead letter in `<stream>:dead` and acknowledged; it never holds up another event, and
a partition that cannot be written now (storage) does not hold up the others."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from mlpatterns_server.arrowfs import filesystem
from mlpatterns_server.collector.metrics import CollectorMetrics
from mlpatterns_server.collector.receiver import as_text, state_key
from mlpatterns_server.predlog.deadletters import DeadLetters
from mlpatterns_server.predlog.schema import InvalidEvent, parse

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),  # the stream id: where the event was in the log
        ("request_id", pa.string()),
        ("model", pa.string()),
        ("version", pa.string()),
        ("role", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("latency_ms", pa.float64()),
        ("inputs", pa.string()),  # JSON: our events' named tensors, or the request body KServe logged
        ("outputs", pa.string()),
        ("source", pa.string()),  # server (our events) or kserve (the logger's request and response)
    ]
)


def row(entry_id: str, fields: dict[bytes, bytes]) -> dict[str, Any]:
    """One stream entry as the row it lands as; InvalidEvent when it cannot be one."""
    if b"event" in fields:
        event = parse(fields[b"event"])
        return {
            "event_id": entry_id, "request_id": str(event["request_id"]), "model": str(event["model"]),
            "version": str(event["version"]), "role": str(event["role"]),
            "timestamp": datetime.fromisoformat(event["timestamp"]), "latency_ms": event.get("latency_ms"),
            "inputs": orjson.dumps(event["inputs"]).decode(), "outputs": orjson.dumps(event["outputs"]).decode(),
            "source": "server",
        }  # fmt: skip
    try:
        return _kserve_row(entry_id, fields)
    except KeyError as error:
        raise InvalidEvent("missing_field", f"the KServe logger entry has no {error}") from None
    except (ValueError, TypeError, AttributeError) as error:
        raise InvalidEvent("wrong_type", f"the KServe logger entry is malformed: {error}") from None


def _kserve_row(entry_id: str, fields: dict[bytes, bytes]) -> dict[str, Any]:
    """A joined request and response of KServe's logger, with the CloudEvent attributes as `meta`."""
    meta = orjson.loads(fields[b"meta"])
    # With a logger that sends one half only (logger mode request or response), the other is absent.
    response = _json(fields.get(b"response", b""))
    model = meta.get("inferenceservicename") or (response or {}).get("model_name") or "unknown"
    version = meta.get("modelversion") or (response or {}).get("model_version") or ""
    when = meta.get("time")
    return {
        "event_id": entry_id, "request_id": meta["id"], "model": model, "version": str(version),
        "role": meta.get("endpoint") or meta.get("component") or "",
        "timestamp": datetime.fromisoformat(when) if when else datetime.fromtimestamp(meta["received"], UTC),
        "latency_ms": None, "inputs": fields.get(b"request", b"").decode(errors="replace"),
        "outputs": fields.get(b"response", b"").decode(errors="replace"), "source": "kserve",
    }  # fmt: skip


def _json(data: bytes) -> dict[str, Any] | None:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


@dataclass
class Partition:
    path: str
    started: float = field(default_factory=time.monotonic)
    entry_ids: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    # Each row's event id and component, whose state becomes `landed <file>`.
    states: list[tuple[str, str]] = field(default_factory=list)


def partition_of(values: dict[str, Any]) -> str:
    day = values["timestamp"].astimezone(UTC).date().isoformat()
    return f"date={day}/model={_safe(values['model'])}/version={_safe(values['version'] or 'unknown')}"


def _safe(text: str) -> str:
    return "".join(char if char.isalnum() or char in "-_.@" else "_" for char in text) or "_"


# KEYS: the events' state hashes. ARGV: the state, its ttl, then each event's component.
_MARK = """
for i, key in ipairs(KEYS) do
  redis.call("HSET", key, ARGV[i + 2], ARGV[1])
  redis.call("EXPIRE", key, ARGV[2])
end
"""
# Events whose state is set in one call.
MARK_CHUNK = 1000
# Seconds between readings of the stream's backlog (a metric).
BACKLOG_EVERY = 5.0


class Lander:
    def __init__(self, client: Any, stream: str, group: str, consumer: str, output: str, max_rows: int,
                 max_age_seconds: float, state_ttl_seconds: int, metrics: CollectorMetrics) -> None:  # fmt: skip
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.output = output.rstrip("/")
        self.fs, root = filesystem(output)
        self.root = root.rstrip("/")
        self.max_rows = max_rows
        self.max_age = max_age_seconds
        self.state_ttl = state_ttl_seconds
        self.metrics = metrics
        self.dead = DeadLetters(client, stream, group, metrics.dead_letters)
        self.partitions: dict[str, Partition] = {}
        self.held: set[str] = set()
        self.landed = 0
        # One flush at a time: the loop's and one asked for over HTTP would write the same rows.
        self.flushing = asyncio.Lock()
        self._mark = client.register_script(_MARK)
        self._backlog_read = 0.0

    def _report(self) -> None:
        """What the lander holds, for the metrics (set here: /metrics may be served by another thread)."""
        self.metrics.unlanded.set(len(self.held))
        oldest = min((partition.started for partition in self.partitions.values()), default=None)
        self.metrics.oldest_unlanded.set(0.0 if oldest is None else time.monotonic() - oldest)

    async def ensure_group(self) -> None:
        from redis.exceptions import ResponseError

        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def run(self, stopping: asyncio.Event) -> None:
        await self.ensure_group()
        await self._reread_own_pending()
        while not stopping.is_set():
            answer = await self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=1000, block=200)
            await self._hold(answer[0][1] if answer else [])
            await self.flush(due_only=True)
            self._report()
            await self._read_backlog()
        await self.flush(due_only=False)
        self._report()

    async def _read_backlog(self) -> None:
        if time.monotonic() - self._backlog_read < BACKLOG_EVERY:
            return
        self._backlog_read = time.monotonic()
        for group in await self.client.xinfo_groups(self.stream):
            if as_text(group["name"]) == self.group:
                self.metrics.backlog.set(group.get("lag") or 0)

    async def _reread_own_pending(self) -> None:
        """After a restart: the events read before and not acknowledged, in order. One lander
        runs per stream, so what another consumer name holds (a pod that is gone) is taken over."""
        start_id = "0-0"
        while True:
            start_id, claimed, _ = await self.client.xautoclaim(
                self.stream, self.group, self.consumer, min_idle_time=0, start_id=start_id, count=1000
            )
            if as_text(start_id) == "0-0" or not claimed:
                break
        start = "0"
        while True:
            answer = await self.client.xreadgroup(self.group, self.consumer, {self.stream: start}, count=1000)
            entries = answer[0][1] if answer else []
            if not entries:
                return
            await self._hold(entries)
            start = as_text(entries[-1][0])

    async def _hold(self, entries: Iterable[tuple[bytes | str, dict[bytes, bytes]]]) -> None:
        for raw_id, fields in entries:
            entry_id = as_text(raw_id)
            if entry_id in self.held:
                continue
            try:
                values = row(entry_id, fields)
                key = partition_of(values)
            except InvalidEvent as error:
                await self._bury(entry_id, fields, error.reason, str(error))
                continue
            except (OverflowError, ValueError) as error:  # a time that has no UTC date (year 9999 at +14:00)
                await self._bury(entry_id, fields, "wrong_type", f"timestamp has no UTC date: {error}")
                continue
            partition = self.partitions.get(key)
            if partition is None:
                partition = self.partitions[key] = Partition(key)
            partition.entry_ids.append(entry_id)
            partition.rows.append(values)
            partition.states.append((values["request_id"], as_text(fields.get(b"where", b""))))
            self.held.add(entry_id)

    async def _bury(self, entry_id: str, fields: dict[bytes, bytes], reason: str, detail: str) -> None:
        await self.dead.send(entry_id, fields, reason, detail)
        await self.client.xack(self.stream, self.group, entry_id)

    async def flush(self, due_only: bool) -> int:
        """Write the partitions that are due (all of them unless due_only); returns the events landed."""
        async with self.flushing:
            landed = await self._flush(due_only)
        self._report()
        return landed

    async def _flush(self, due_only: bool) -> int:
        now, landed = time.monotonic(), 0
        for key, partition in list(self.partitions.items()):
            full = len(partition.rows) >= self.max_rows
            old = now - partition.started >= self.max_age
            if due_only and not (full or old):
                continue
            try:
                landed += await self._flush_partition(partition, due_only and not old)
            except OSError as error:  # storage refused this partition: the others still land
                self.metrics.land_errors.inc()
                log.warning("cannot land %s now (%s); kept for the next attempt", partition.path, error)
            if not partition.rows:
                del self.partitions[key]
        return landed

    async def _flush_partition(self, partition: Partition, full_files_only: bool) -> int:
        landed = 0
        while partition.rows:
            rows, ids = partition.rows[: self.max_rows], partition.entry_ids[: self.max_rows]
            if full_files_only and len(rows) < self.max_rows:
                break
            try:
                table = pa.Table.from_pylist(rows, schema=SCHEMA)
            except (pa.ArrowException, OverflowError, TypeError, ValueError):
                await self._bury_unwritable(partition)
                continue
            file = await asyncio.to_thread(self._write, partition.path, ids[0], table)
            await self._mark_landed(partition.states[: len(rows)], f"landed {file}")
            await self.client.xack(self.stream, self.group, *ids)
            self.landed += len(ids)
            landed += len(ids)
            self._count(rows)
            self.held.difference_update(ids)
            del partition.rows[: len(rows)], partition.entry_ids[: len(ids)], partition.states[: len(rows)]
        return landed

    async def _bury_unwritable(self, partition: Partition) -> None:
        """The rows Parquet refuses, each found alone, as dead letters with their original entries."""
        for index in reversed(range(len(partition.rows))):
            try:
                pa.Table.from_pylist(partition.rows[index : index + 1], schema=SCHEMA)
            except (pa.ArrowException, OverflowError, TypeError, ValueError) as error:
                entry_id = partition.entry_ids[index]
                found = await self.client.xrange(self.stream, min=entry_id, max=entry_id)
                await self._bury(entry_id, found[0][1] if found else {}, "unwritable", f"Parquet refused it: {error}")
                self.held.discard(entry_id)
                del partition.rows[index], partition.entry_ids[index], partition.states[index]

    async def _mark_landed(self, states: list[tuple[str, str]], state: str) -> None:
        for start in range(0, len(states), MARK_CHUNK):
            chunk = [(event_id, where) for event_id, where in states[start : start + MARK_CHUNK] if event_id]
            if chunk:
                keys = [state_key(self.stream, event_id) for event_id, _ in chunk]
                await self._mark(keys=keys, args=[state, self.state_ttl, *(where for _, where in chunk)])

    def _count(self, rows: list[dict[str, Any]]) -> None:
        self.metrics.landed_files.inc()
        by_model: dict[str, int] = {}
        for values in rows:
            by_model[values["model"]] = by_model.get(values["model"], 0) + 1
        for model, count in by_model.items():
            self.metrics.landed_events.labels(model=model).inc(count)

    def _write(self, path: str, first_id: str, table: pa.Table) -> str:
        """Write one file; returns where it is, as the output was given (s3://...)."""
        folder = f"{self.root}/{path}"
        name = f"part-{first_id.replace('-', '_')}.parquet"
        final = f"{folder}/{name}"
        if isinstance(self.fs, pafs.LocalFileSystem):
            self.fs.create_dir(folder, recursive=True)
        temporary = f"{folder}/.part-{first_id}.tmp"
        with self.fs.open_output_stream(temporary) as sink:
            pq.write_table(table, sink)
        self.fs.move(temporary, final)
        log.info("landed %d events in %s", table.num_rows, final)
        return f"{self.output}/{path}/{name}"
