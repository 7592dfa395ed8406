"""`mlpatterns-server compare`: reads the prediction-log stream in a consumer group of its own,
pairs each request's primary and shadow events (pairing.py) and exports what it finds.

    GET /metrics        mlpatterns_shadow_* (tally.py)
    GET /v1/summary     agreement, disagreement by class pair, error and latency quantiles (JSON)

An entry is acknowledged once its event is compared or given up on, so a restarted comparison
takes over what it had read and not finished. An entry that is not a valid event (predlog/schema.py)
is a dead letter in `<stream>:dead` and the comparison goes on; if its task dies all the same, the
process stops answering ready. With --summary_url it prints a running
comparison's summary as a table (or JSON) instead."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlpatterns_server.app import json_response, metrics_route, redis_health_routes
from mlpatterns_server.collector.receiver import as_text
from mlpatterns_server.compare.pairing import Comparison, Logged, Pairing, Unpaired
from mlpatterns_server.compare.settings import CompareSettings
from mlpatterns_server.compare.tally import Tally
from mlpatterns_server.predlog.deadletters import DeadLetters, dead_letter_counter
from mlpatterns_server.predlog.schema import InvalidEvent, parse
from mlpatterns_server.worker_task import WorkerTask

log = logging.getLogger(__name__)

READ_COUNT = 1000
BLOCK_MS = 500


class Comparer:
    def __init__(self, settings: CompareSettings) -> None:
        import redis.asyncio

        self.settings = settings
        # Typed loosely: redis-py's stubs type stream replies as one union for every command.
        self.client: Any = redis.asyncio.Redis.from_url(
            settings.redis_url, socket_timeout=10, socket_connect_timeout=10
        )
        self.pairing = Pairing(
            settings.primary_role, settings.shadow_role, settings.window_seconds, settings.tolerance,
            every_request_mirrored=settings.mirror_percent >= 100, task=settings.task,
        )  # fmt: skip
        self.tally = Tally()
        self.dead = DeadLetters(self.client, settings.stream, settings.group, dead_letter_counter(self.tally.registry))
        self.worker = WorkerTask("compare")
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        """Compare until stopped, through Redis outages."""
        from redis.exceptions import RedisError

        while not self.stopping.is_set():
            try:
                await self._ensure_group()
                await self._take_over_pending()
                while not self.stopping.is_set():
                    answer = await self.client.xreadgroup(
                        self.settings.group, self.settings.consumer, {self.settings.stream: ">"},
                        count=READ_COUNT, block=BLOCK_MS,
                    )  # fmt: skip
                    await self.take(answer[0][1] if answer else [])
            except (RedisError, OSError) as error:
                log.warning("comparison paused (%s); retrying in 1 s", error)
                await asyncio.sleep(1)

    async def take(self, entries: list[tuple[bytes | str, dict[bytes, bytes]]]) -> None:
        """Pair the events of these entries and acknowledge every entry that is done with."""
        done: list[str] = []
        for raw_id, fields in entries:
            entry_id = as_text(raw_id)
            if b"event" not in fields:  # a KServe logger pair: the lander's, not ours to compare
                done.append(entry_id)
                continue
            try:
                outcome = self.pairing.add(Logged.from_event(parse(fields[b"event"]), entry_id))
            except InvalidEvent as error:
                await self.dead.send(entry_id, fields, error.reason, str(error))
                done.append(entry_id)
                continue
            if isinstance(outcome, Comparison):
                self.tally.compared(outcome)
                done += [outcome.primary.entry_id, outcome.shadow.entry_id]
            elif isinstance(outcome, Unpaired):
                self.tally.gave_up(outcome)
                done.append(entry_id)
        for unpaired in self.pairing.expire():
            self.tally.gave_up(unpaired)
            done.append(unpaired.event.entry_id)
        if done:
            await self.client.xack(self.settings.stream, self.settings.group, *done)

    async def _ensure_group(self) -> None:
        from redis.exceptions import ResponseError

        try:
            # From the stream's end: a new comparison starts with the traffic it sees.
            await self.client.xgroup_create(self.settings.stream, self.settings.group, id="$", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def _take_over_pending(self) -> None:
        """After a restart: what this group had read and not finished, whoever read it."""
        start: Any = "0-0"
        while True:
            start, claimed, _ = await self.client.xautoclaim(
                self.settings.stream, self.settings.group, self.settings.consumer, min_idle_time=0,
                start_id=start, count=READ_COUNT,
            )  # fmt: skip
            await self.take([entry for entry in claimed if entry[1]])
            if as_text(start) == "0-0" or not claimed:
                return

    # -- HTTP

    async def summary(self, request: Request) -> Response:
        return json_response({**self.tally.summary(), "waiting": len(self.pairing.waiting)})

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        task = self.worker.start(self.run())
        yield
        self.stopping.set()
        with contextlib.suppress(Exception):  # it died: logged, and said by readiness, when it did
            await task
        await self.client.aclose()

    def app(self) -> Starlette:
        routes = [
            metrics_route(self.tally.exposition),
            Route("/v1/summary", self.summary),
            *redis_health_routes(self.client, self.worker),
        ]
        return Starlette(routes=routes, lifespan=self.lifespan)


def print_summary(url: str, form: str) -> int:
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        summary = httpx.get(f"{url.rstrip('/')}/v1/summary", timeout=10).raise_for_status().json()
    except httpx.HTTPError as error:
        print(f"mlpatterns-server compare: cannot read the summary at {url}: {error}")
        return 1
    if form == "json":
        print(json.dumps(summary, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="shadow comparison")
    for column in ("model", "versions", "compared", "agreement", "missing", "top disagreement", "abs error p99",
                   "latency diff p50 ms"):  # fmt: skip
        table.add_column(column)
    for model, found in summary["models"].items():
        rate = found["agreement_rate"]
        top = found["disagreements"][0] if found["disagreements"] else None
        table.add_row(
            model, f"{found['primary_version']} / {found['shadow_version']}", str(found["compared"]),
            "-" if rate is None else f"{rate:.2%}", str(found["missing"]),
            f"{top['primary_class']} -> {top['shadow_class']} ({top['rows']})" if top else "-",
            f"{found['abs_error']['p99']:.4g}" if found["abs_error"] else "-",
            f"{found['latency_difference_ms']['p50']:+.2f}" if found["latency_difference_ms"] else "-",
        )  # fmt: skip
    console = Console()
    (console if console.is_terminal else Console(width=160)).print(table)
    print(f"{summary['waiting']} events waiting for their partner")
    return 0


def run(settings: CompareSettings) -> int:
    if settings.summary_url:
        return print_summary(settings.summary_url, settings.summary_format)
    import uvicorn

    comparer = Comparer(settings)
    log.info(
        "comparing %s against %s in %s (group %s), a %g s window",
        settings.shadow_role, settings.primary_role, settings.stream, settings.group, settings.window_seconds,
    )  # fmt: skip
    uvicorn.run(comparer.app(), host=settings.host, port=settings.http_port, log_config=None, access_log=False)
    return 0
