"""`mlpatterns watch [--once]` and `mlpatterns report`: a rich view of a snapshot, refreshed until
Ctrl-C; and a PNG of the run."""

from __future__ import annotations

import math
import time
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mlpatterns.local.supervisor import states
from mlpatterns.observe import direct
from mlpatterns.observe.prometheus_api import PrometheusError, running_prometheus
from mlpatterns.observe.views import Cache, Snapshot, snapshot

REFRESH_SECONDS = 2.0
SETTLE_SECONDS = 20.0  # `--once` waits up to this for Prometheus to scrape requests already counted


def _percent(number: float | None) -> str:
    return "-" if number is None or math.isnan(number) else f"{number:.1%}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None or math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def render(view: Snapshot, source: str, over: str, waiting: str = "") -> Group:
    """The snapshot as a table per pattern; `waiting` says why it has no rows although requests
    were counted (Prometheus has not scraped them yet)."""
    table = Table(title=f"mlpatterns watch: {source} (rates over {over}; latency server-side)")
    for column in ("model", "version", "role", "req/s", "share", "errors", "p50", "p99"):
        table.add_column(column, justify="right" if column not in ("model", "version", "role") else "left")
    for row in view.rows:
        table.add_row(row.model, row.version, row.role, f"{row.rps:.1f}", _percent(row.share), _percent(row.errors),
                      _ms(row.p50), _ms(row.p99))  # fmt: skip
    lines: list[Table | Text] = [table]
    if not view.rows:
        lines.append(Text(waiting or "no traffic yet: send some with `mlpatterns load <pattern>`"))
    for model, cache in sorted(view.cache.items()):
        lines.append(Text(cache_line(model, cache)))
    for model, depth in sorted(view.queue_depth.items()):
        lines.append(Text(f"async queue of {model}: {depth:g} jobs waiting or running"))
    for model, ratio in sorted(view.agreement.items()):
        lines.append(Text(f"shadow agreement of {model}: {_percent(ratio)}"))
    return Group(*lines)


def cache_line(model: str, cache: Cache) -> str:
    """Hits, misses and the cache's own failures: a Redis error or timeout is not a failed request
    (it was predicted without the cache), so it is said apart from the request errors above."""
    if not cache.lookups:
        return f"cache of {model}: no lookups"
    share = {result: getattr(cache, result) / cache.lookups for result in ("hit", "miss", "error")}
    line = f"cache of {model}: {share['hit']:.1%} hits, {share['miss']:.1%} misses, {share['error']:.1%} Redis errors"
    if cache.error:
        line += f" ({cache.error:.1f}/s predicted without the cache: the dependency failed, the requests did not)"
    return line


def _prometheus(url: str | None, console: Console) -> list[tuple[str, str]]:
    """The Prometheus given, else every one `mlpatterns up` runs (one per pattern)."""
    found = [("", url)] if url else running_prometheus()
    if not found:
        console.print("[red]no Prometheus: start a pattern with `mlpatterns up` (it runs one), or give --prometheus[/]")
    return found


def _views(found: list[tuple[str, str | None, list[str]]], window: str, namespace: str, settle: bool = False) -> Group:
    """A view of each pattern. One whose Prometheus has no rates yet for requests its processes
    counted (a series needs two scrapes to have a rate; once it has, it keeps one, 0 when traffic
    stops) says it waits for the next scrape, and with `settle` (`--once`) is read again until
    Prometheus has them (bounded): never "no traffic" of traffic not scraped yet."""
    views = []
    for chart, prometheus, metrics in found:
        if prometheus:
            view, waiting = snapshot(prometheus, window, namespace), ""
            started = time.monotonic()
            while not view.rows and metrics and direct.requests_counted(metrics) > 0:
                waiting = f"waiting for Prometheus' next scrape ({time.monotonic() - started:.0f} s)"
                if not settle or time.monotonic() - started > SETTLE_SECONDS:
                    break
                time.sleep(1.0)
                view = snapshot(prometheus, window, namespace)
            views.append(render(view, chart or prometheus, f"{window}", waiting))
        else:
            direct_view = direct.snapshot(metrics, REFRESH_SECONDS)
            views.append(render(direct_view, chart, f"{REFRESH_SECONDS:g} s, from the processes' /metrics"))
    return Group(*views)


def _watched(url: str | None, console: Console) -> list[tuple[str, str | None, list[str]]]:
    """What to read: the Prometheus given; else each pattern `up` runs, through its Prometheus, or
    straight from its processes' /metrics when it runs none."""
    if url:
        return [("", url, [])]
    found = [(state["chart"], state.get("prometheus"), [p["metrics"] for p in state["processes"] if p.get("metrics")])
             for state in states()]  # fmt: skip
    if not found:
        console.print("[red]nothing to watch: start a pattern with `mlpatterns up`, or give --prometheus[/]")
    return found


def watch(url: str | None, window: str, namespace: str, once: bool, console: Console) -> int:
    found = _watched(url, console)
    if not found:
        return 2
    try:
        if once:
            console.print(_views(found, window, namespace, settle=True))
            return 0
        with Live(console=console, refresh_per_second=1) as live:
            while True:
                live.update(_views(found, window, namespace))
                time.sleep(REFRESH_SECONDS)
    except PrometheusError as error:
        console.print(f"[red]mlpatterns watch: {error}[/]")
        return 1
    except KeyboardInterrupt:
        return 0


def report(url: str | None, output: Path, minutes: float, namespace: str, console: Console) -> int:
    from mlpatterns.observe.figure import draw

    found = _prometheus(url, console)
    if not found:
        return 2
    try:
        drawn, empty = draw(found, output, minutes, namespace)
    except PrometheusError as error:
        console.print(f"[red]mlpatterns report: {error}[/]")
        return 1
    console.print(f"report: {output} ({'; '.join(drawn) or f'no data in the last {minutes:g} minutes'})",
                  markup=False)  # fmt: skip
    if empty:
        console.print(f"  left out, no data in the last {minutes:g} minutes: {'; '.join(empty)}", markup=False)
    return 0
