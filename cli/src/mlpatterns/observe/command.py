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
from mlpatterns.observe.views import Snapshot, snapshot

REFRESH_SECONDS = 2.0


def _percent(number: float | None) -> str:
    return "-" if number is None or math.isnan(number) else f"{number:.1%}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None or math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def render(view: Snapshot, source: str, over: str) -> Group:
    table = Table(title=f"mlpatterns watch: {source} (rates over {over})")
    for column in ("model", "version", "role", "req/s", "share", "errors", "p50", "p99"):
        table.add_column(column, justify="right" if column not in ("model", "version", "role") else "left")
    for row in view.rows:
        table.add_row(row.model, row.version, row.role, f"{row.rps:.1f}", _percent(row.share), _percent(row.errors),
                      _ms(row.p50), _ms(row.p99))  # fmt: skip
    lines: list[Table | Text] = [table]
    if not view.rows:
        lines.append(Text("no traffic yet: send some with `mlpatterns load <pattern>`"))
    for model, ratio in sorted(view.cache_hit_ratio.items()):
        lines.append(Text(f"cache hit ratio of {model}: {_percent(ratio)}"))
    for model, ratio in sorted(view.agreement.items()):
        lines.append(Text(f"shadow agreement of {model}: {_percent(ratio)}"))
    return Group(*lines)


def _prometheus(url: str | None, console: Console) -> list[tuple[str, str]]:
    """The Prometheus given, else every one `mlpatterns up` runs (one per pattern)."""
    found = [("", url)] if url else running_prometheus()
    if not found:
        console.print("[red]no Prometheus: start a pattern with `mlpatterns up` (it runs one), or give --prometheus[/]")
    return found


def _views(found: list[tuple[str, str | None, list[str]]], window: str, namespace: str) -> Group:
    views = []
    for chart, prometheus, metrics in found:
        if prometheus:
            views.append(render(snapshot(prometheus, window, namespace), chart or prometheus, f"{window}"))
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
            console.print(_views(found, window, namespace))
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
        drawn = draw(found, output, minutes, namespace)
    except PrometheusError as error:
        console.print(f"[red]mlpatterns report: {error}[/]")
        return 1
    panels = ", ".join(drawn) or f"no data in the last {minutes:g} minutes"
    console.print(f"report: {output} ({panels})")
    return 0
