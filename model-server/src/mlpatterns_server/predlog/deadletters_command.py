"""`mlpatterns-server deadletters`: list the dead letters of a stream, or, once what refused them is
fixed, re-drive them: each original entry is appended to the stream again (once, however many
readers refused it) and its dead letters are deleted. A re-driven entry is a new entry, read by
every consumer group of the stream."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mlpatterns_server.collector.receiver import as_text
from mlpatterns_server.predlog.deadletters import ADDED, CONSUMER, DETAIL, ENTRY, REASON, dead_stream
from mlpatterns_server.settings import ComponentSettings

PAGE = 1000


class DeadLettersSettings(ComponentSettings):
    model_config = SettingsConfigDict(cli_prog_name="mlpatterns-server deadletters")

    redis_url: str = Field("redis://localhost:6379/0", description="The Redis holding the stream.")
    stream: str = Field("mlpatterns:predictions", description="The stream whose dead letters (<stream>:dead) to read.")
    consumer: str | None = Field(None, description="Only the dead letters of this reader (lander, compare).")
    reason: str | None = Field(None, description="Only the dead letters of this reason (wrong_type, ...).")
    redrive: bool = Field(False, description="Append each original entry to the stream again and delete its letters.")
    output: Literal["table", "json"] = Field("table", description="How the list is printed.")


def letters(client: Any, settings: DeadLettersSettings) -> list[tuple[str, dict[bytes, bytes]]]:
    """The dead letters that match, oldest first."""
    found, start = [], "-"
    while True:
        page = client.xrange(dead_stream(settings.stream), min=start, count=PAGE)
        for raw_id, fields in page:
            if settings.consumer and as_text(fields.get(CONSUMER, b"")) != settings.consumer:
                continue
            if settings.reason and as_text(fields.get(REASON, b"")) != settings.reason:
                continue
            found.append((as_text(raw_id), fields))
        if len(page) < PAGE:
            return found
        start = f"({as_text(page[-1][0])}"


def redrive(client: Any, stream: str, found: list[tuple[str, dict[bytes, bytes]]]) -> int:
    """Append each original entry once; returns how many were appended."""
    by_entry: dict[bytes, tuple[dict[bytes, bytes], list[str]]] = {}
    for letter_id, fields in found:
        _, ids = by_entry.setdefault(fields.get(ENTRY, letter_id.encode()), (fields, []))
        ids.append(letter_id)
    for fields, ids in by_entry.values():
        entry = {key: value for key, value in fields.items() if key not in ADDED}
        if entry:
            client.xadd(stream, entry)
        client.xdel(dead_stream(stream), *ids)
    return len(by_entry)


def run(settings: DeadLettersSettings) -> int:
    import redis
    from redis.exceptions import RedisError

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=10)
    try:
        found = letters(client, settings)
        if settings.redrive:
            print(f"re-drove {redrive(client, settings.stream, found)} entries into {settings.stream}")
            return 0
    except RedisError as error:
        print(f"mlpatterns-server deadletters: cannot read {dead_stream(settings.stream)}: {error}")
        return 1
    rows = [{"id": letter_id, "entry": as_text(fields.get(ENTRY, b"")), "consumer": as_text(fields.get(CONSUMER, b"")),
             "reason": as_text(fields.get(REASON, b"")), "detail": as_text(fields.get(DETAIL, b""))}
            for letter_id, fields in found]  # fmt: skip
    if settings.output == "json":
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"dead letters of {settings.stream}")
    for column in ("id", "entry", "consumer", "reason", "detail"):
        table.add_column(column)
    for found_row in rows:
        table.add_row(*found_row.values())
    console = Console()
    (console if console.is_terminal else Console(width=200)).print(table)
    print(f"{len(rows)} dead letters; --redrive appends them to {settings.stream} again")
    return 0
