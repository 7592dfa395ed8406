"""`mlpatterns load <pattern|URL> --rps N --duration S [--users K]`: the rows, the target, progress
while it runs and a summary at the end (sent, ok, errors, p50/p99 and the share each variant answered)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from mlpatterns.traffic import rows as row_sources
from mlpatterns.traffic.load import Plan, Tally, run
from mlpatterns.traffic.target import NoTarget, resolve


def load(target_name: str, plan: Plan, console: Console, model: str | None = None, data: Path | None = None,
         seed: int = 0, as_json: bool = False) -> dict[str, Any] | None:  # fmt: skip
    """Send the load and print its summary; the summary, or None when nothing could be sent."""
    try:
        target = resolve(target_name, model)
        rows, source = row_sources.choose(data, target.base, target.model, seed)
    except (NoTarget, row_sources.NoRows) as error:
        console.print(f"[red]mlpatterns load: {error}[/]")
        return None
    what = "jobs" if target.jobs else "requests"
    users = f", {plan.users} users ({plan.user_header})" if plan.users else ""
    console.print(
        f"mlpatterns load: {plan.rps:g} {what}/s for {plan.seconds:g} s to {target.url}{users}; rows from {source}"
    )
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
                  TimeRemainingColumn(), console=console, transient=True, disable=as_json) as bar:  # fmt: skip
        task = bar.add_task("sending", total=plan.total, status="")

        def progress(tally: Tally, total: int) -> None:
            bar.update(task, completed=tally.sent, status=f"{tally.ok} ok, {tally.answered - tally.ok} errors")

        tally = asyncio.run(run(target, rows, plan, progress))
    summary = {"target": target.url, **tally.summary()}
    if as_json:
        console.print_json(json.dumps(summary))
    else:
        print_summary(summary, console)
    return summary


def print_summary(summary: dict[str, Any], console: Console) -> None:
    table = Table(title="load", show_header=False)
    table.add_row("sent", str(summary["sent"]))
    table.add_row("ok", str(summary["ok"]))
    table.add_row("errors", f"{summary['errors']}  {summary['codes']}" if summary["errors"] else "0")
    if summary["skipped"]:
        table.add_row("not sent", f"{summary['skipped']} (too many requests open at once)")
    # Measured here, from each request's scheduled send to its answer: the network and this
    # generator's own queueing are in it, so it is at least the servers' histogram (`watch`).
    table.add_row("client-side latency", f"p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms "
                  "(scheduled send to answer)")  # fmt: skip
    for variant in summary["variants"]:
        answered = f"{variant['share']:.1%} ({variant['requests']}, version {variant['version'] or '?'})"
        table.add_row(f"answered by {variant['role']}", answered)
    console.print(table)
    for message, count in summary["error_messages"].items():
        console.print(f"  [red]{count} x[/] {message}", markup=True, highlight=False)
