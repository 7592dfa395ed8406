"""The stream landed as Parquet: a consumer group reads the events, buffers them by partition
(date, model, version) and writes a file when a partition holds --max_file_rows events or its
first event is --max_file_age_seconds old; the events are acknowledged only once their file is
written. Files are named by the stream id of their first event, and a restarted lander first
re-reads the events it had not acknowledged, in order: the partition's first unacknowledged event
is the first event of the file it was writing, so the file is rewritten under the same name, not
written twice. At least once in, each event exactly once in what is landed."""

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
    """One stream entry as the row it lands as."""
    if b"event" in fields:
        event = orjson.loads(fields[b"event"])
        return {
            "event_id": entry_id, "request_id": str(event["request_id"]), "model": str(event["model"]),
            "version": str(event["version"]), "role": str(event["role"]),
            "timestamp": datetime.fromisoformat(event["timestamp"]), "latency_ms": event.get("latency_ms"),
            "inputs": orjson.dumps(event["inputs"]).decode(), "outputs": orjson.dumps(event["outputs"]).decode(),
            "source": "server",
        }  # fmt: skip
    meta = orjson.loads(fields[b"meta"])
    response = _json(fields[b"response"])
    model = meta.get("inferenceservicename") or (response or {}).get("model_name") or "unknown"
    version = meta.get("modelversion") or (response or {}).get("model_version") or ""
    when = meta.get("time")
    return {
        "event_id": entry_id, "request_id": meta["id"], "model": model, "version": str(version),
        "role": meta.get("endpoint") or meta.get("component") or "",
        "timestamp": datetime.fromisoformat(when) if when else datetime.fromtimestamp(meta["received"], UTC),
        "latency_ms": None, "inputs": fields[b"request"].decode(errors="replace"),
        "outputs": fields[b"response"].decode(errors="replace"), "source": "kserve",
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


def partition_of(values: dict[str, Any]) -> str:
    day = values["timestamp"].astimezone(UTC).date().isoformat()
    return f"date={day}/model={_safe(values['model'])}/version={_safe(values['version'] or 'unknown')}"


def _safe(text: str) -> str:
    return "".join(char if char.isalnum() or char in "-_.@" else "_" for char in text) or "_"


class Lander:
    def __init__(self, client: Any, stream: str, group: str, consumer: str, output: str, max_rows: int,
                 max_age_seconds: float) -> None:  # fmt: skip
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.fs, root = filesystem(output)
        self.root = root.rstrip("/")
        self.max_rows = max_rows
        self.max_age = max_age_seconds
        self.partitions: dict[str, Partition] = {}
        self.held: set[str] = set()
        self.landed = 0

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
            self._hold(answer[0][1] if answer else [])
            await self.flush(due_only=True)
        await self.flush(due_only=False)

    async def _reread_own_pending(self) -> None:
        """After a restart: the events read before and not acknowledged, in order. One lander
        runs per stream, so what another consumer name holds (a pod that is gone) is taken over."""
        start_id = "0-0"
        while True:
            start_id, claimed, _ = await self.client.xautoclaim(
                self.stream, self.group, self.consumer, min_idle_time=0, start_id=start_id, count=1000
            )
            if _text(start_id) == "0-0" or not claimed:
                break
        start = "0"
        while True:
            answer = await self.client.xreadgroup(self.group, self.consumer, {self.stream: start}, count=1000)
            entries = answer[0][1] if answer else []
            if not entries:
                return
            self._hold(entries)
            start = _text(entries[-1][0])

    def _hold(self, entries: Iterable[tuple[bytes | str, dict[bytes, bytes]]]) -> None:
        for raw_id, fields in entries:
            entry_id = _text(raw_id)
            if entry_id in self.held:
                continue
            try:
                values = row(entry_id, fields)
            except (KeyError, ValueError, TypeError) as error:
                log.warning("event %s is malformed (%s); landed as unknown", entry_id, error)
                now = datetime.now(UTC)
                values = {"event_id": entry_id, "request_id": "", "model": "unknown", "version": "", "role": "",
                          "timestamp": now, "latency_ms": None, "inputs": "", "outputs": "",
                          "source": "malformed"}  # fmt: skip
            key = partition_of(values)
            partition = self.partitions.get(key)
            if partition is None:
                partition = self.partitions[key] = Partition(key)
            partition.entry_ids.append(entry_id)
            partition.rows.append(values)
            self.held.add(entry_id)

    async def flush(self, due_only: bool) -> None:
        now = time.monotonic()
        for key, partition in list(self.partitions.items()):
            full = len(partition.rows) >= self.max_rows
            old = now - partition.started >= self.max_age
            if due_only and not (full or old):
                continue
            while partition.rows:
                rows, ids = partition.rows[: self.max_rows], partition.entry_ids[: self.max_rows]
                if due_only and len(rows) < self.max_rows and not old:
                    break
                await asyncio.to_thread(self._write, partition.path, ids[0], rows)
                await self.client.xack(self.stream, self.group, *ids)
                self.landed += len(ids)
                self.held.difference_update(ids)
                del partition.rows[: len(rows)], partition.entry_ids[: len(ids)]
            if not partition.rows:
                del self.partitions[key]

    def _write(self, path: str, first_id: str, rows: list[dict[str, Any]]) -> None:
        folder = f"{self.root}/{path}"
        final = f"{folder}/part-{first_id.replace('-', '_')}.parquet"
        if isinstance(self.fs, pafs.LocalFileSystem):
            self.fs.create_dir(folder, recursive=True)
        temporary = f"{folder}/.part-{first_id}.tmp"
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        with self.fs.open_output_stream(temporary) as sink:
            pq.write_table(table, sink)
        self.fs.move(temporary, final)
        log.info("landed %d events in %s", len(rows), final)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
