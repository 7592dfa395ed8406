"""`mlpatterns report`: the panels a user would look at in Grafana, drawn from Prometheus over a
past window into one PNG (matplotlib, no display needed): traffic share and latency by variant,
and the shadow's agreement, over time."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from mlpatterns.monitoring.panels import substitute
from mlpatterns.observe.prometheus_api import query_range
from mlpatterns.observe.views import AGREEMENT, SHARE, VARIANT_P50, VARIANT_P99

# Rates over a short window: a demo's or a test's runs last a minute, not hours.
WINDOW = "30s"
POINTS = 240


def _plot(axes: Axes, sources: list[tuple[str, str]], expr: str, start: float, end: float, legend: str,
          style: str = "-") -> int:  # fmt: skip
    """The query's series from every Prometheus, each labelled with its pattern when there are several."""
    step = max(1.0, (end - start) / POINTS)
    count = 0
    for chart, url in sources:
        prefix = f"{chart}: " if chart and len(sources) > 1 else ""
        count += _plot_one(axes, query_range(url, expr, start, end, step), prefix + legend, style)
    return count


def _plot_one(axes: Axes, series: list[dict[str, Any]], legend: str, style: str) -> int:
    for one in series:
        # matplotlib plots datetimes (its stubs say otherwise)
        times: Any = [datetime.fromtimestamp(float(t)) for t, _ in one["values"]]
        values = [float(v) for _, v in one["values"]]
        axes.plot(times, values, style, label=legend.format(**one["metric"]))
    return len(series)


def draw(sources: list[tuple[str, str]], output: Path, minutes: float, namespace: str = ".*") -> list[str]:
    """Write the PNG from every (pattern, Prometheus URL); the names of the panels that had data."""
    end = time.time()
    start = end - minutes * 60

    def expr(text: str) -> str:
        return substitute(text, namespace=namespace, window=WINDOW)

    figure, (share, latency, agreement) = plt.subplots(3, 1, figsize=(10, 11), sharex=True)
    drawn = []
    if _plot(share, sources, expr(SHARE), start, end, "{role}"):
        drawn.append("traffic share")
    share.set_title("Traffic share by variant (live traffic, the shadow's mirror excluded)")
    share.yaxis.set_major_formatter(PercentFormatter(1.0))
    share.set_ylim(0, 1.05)
    found = _plot(latency, sources, expr(VARIANT_P50), start, end, "p50 {role} {version}")
    found += _plot(latency, sources, expr(VARIANT_P99), start, end, "p99 {role} {version}", "--")
    if found:
        drawn.append("latency")
    latency.set_title("Latency by variant")
    latency.set_ylabel("seconds")
    if _plot(agreement, sources, expr(AGREEMENT), start, end, "{model}"):
        drawn.append("shadow agreement")
    agreement.set_title("Shadow agreement with the primary")
    agreement.yaxis.set_major_formatter(PercentFormatter(1.0))
    agreement.set_ylim(0, 1.05)
    for axes in (share, latency, agreement):
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="lower left", fontsize="small")
        else:
            axes.text(0.5, 0.5, "no data in this window", ha="center", va="center", transform=axes.transAxes)
    figure.autofmt_xdate()
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=100)
    plt.close(figure)
    return drawn
