"""`mlpatterns report`: the panels a user would look at in Grafana for the pattern that ran, drawn
from Prometheus over a past window into one PNG (matplotlib, no display needed). Which panels: those
marked `report` on the dashboards the pattern's chart ships (monitoring/charts.py, the table the
charts' own dashboards come from); a panel without data in the window is left out, never drawn empty."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI

import matplotlib.pyplot as plt
from matplotlib.ticker import PercentFormatter

from mlpatterns.monitoring.charts import CHARTS
from mlpatterns.monitoring.panels import DASHBOARDS, Panel, substitute
from mlpatterns.observe.prometheus_api import query_range

# Rates over a short window: a demo's or a test's runs last a minute, not hours.
WINDOW = "30s"
POINTS = 240
UNITS = {"s": "seconds", "reqps": "per second"}


def panels_of(chart: str) -> list[Panel]:
    """The report's panels for a chart (every dashboard's when the chart is not known)."""
    files = {f"{stem}.json" for stem in CHARTS[chart].dashboards} if chart in CHARTS else None
    return [panel for dashboard in DASHBOARDS if files is None or dashboard.file in files
            for panel in dashboard.panels if panel.report]  # fmt: skip


@dataclass
class Drawn:
    panel: Panel
    lines: list[tuple[str, list[Any], list[float]]] = field(default_factory=list)  # legend, times, values


def _legend(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda match: labels.get(match[1], ""), template).strip()


def _series(panel: Panel, sources: list[tuple[str, str]], namespace: str, start: float, end: float) -> Drawn:
    """The panel's queries over the window from every Prometheus whose pattern shows it."""
    drawn = Drawn(panel)
    step = max(1.0, (end - start) / POINTS)
    for chart, url in sources:
        if panel not in panels_of(chart):
            continue
        prefix = f"{chart}: " if chart and len(sources) > 1 else ""
        for one in panel.queries:
            expr = substitute(one.expr, namespace=namespace, window=WINDOW)
            for series in query_range(url, expr, start, end, step):
                # matplotlib plots datetimes (its stubs say otherwise)
                times: list[Any] = [datetime.fromtimestamp(float(t)) for t, _ in series["values"]]
                values = [float(v) for _, v in series["values"]]
                drawn.lines.append((prefix + _legend(one.legend, series["metric"]), times, values))
    return drawn


def draw(sources: list[tuple[str, str]], output: Path, minutes: float,
         namespace: str = ".*") -> tuple[list[str], list[str]]:  # fmt: skip
    """Write the PNG from every (pattern, Prometheus URL): the titles of the panels drawn, and of
    those left out for having no data in the window."""
    end = time.time()
    start = end - minutes * 60
    wanted: list[Panel] = []
    for chart, _ in sources:
        wanted += [panel for panel in panels_of(chart) if panel not in wanted]
    found = [_series(panel, sources, namespace, start, end) for panel in wanted]
    drawn = [one for one in found if one.lines]
    empty = [one.panel.title for one in found if not one.lines]
    figure, axes_list = plt.subplots(max(1, len(drawn)), 1, figsize=(10, 2.0 + 2.8 * max(1, len(drawn))),
                                     sharex=True, squeeze=False)  # fmt: skip
    for axes, one in zip(axes_list[:, 0], drawn, strict=False):
        for legend, times, values in one.lines:
            axes.plot(times, values, label=legend)
        axes.set_title(one.panel.title)
        if one.panel.unit == "percentunit":
            axes.yaxis.set_major_formatter(PercentFormatter(1.0))
            axes.set_ylim(0, 1.05)
        elif one.panel.unit in UNITS:
            axes.set_ylabel(UNITS[one.panel.unit])
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left", fontsize="small")
    if not drawn:
        axes_list[0, 0].text(0.5, 0.5, f"no data in the last {minutes:g} minutes", ha="center", va="center")
    figure.autofmt_xdate()
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=100)
    plt.close(figure)
    return [one.panel.title for one in drawn], empty
