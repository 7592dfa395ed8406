"""What `watch` shows and `report` draws, as the dashboards' own panels (so the terminal, the PNG
and Grafana agree): the panel's query with the variables chosen."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlpatterns.monitoring.panels import ONLINE_AB, OVERVIEW, SHADOW, STATE, Dashboard, substitute
from mlpatterns.observe.prometheus_api import query, value


def panel_query(dashboard: Dashboard, title: str, index: int = 0) -> str:
    for panel in dashboard.panels:
        if panel.title == title:
            return panel.queries[index].expr
    raise KeyError(f"{dashboard.title} has no panel {title!r}")


RPS = panel_query(OVERVIEW, "Requests per second")
ERRORS = panel_query(OVERVIEW, "Error ratio (5xx)")
P50 = panel_query(OVERVIEW, "Latency p50 / p95 / p99", 0)
P99 = panel_query(OVERVIEW, "Latency p50 / p95 / p99", 2)
SHARE = panel_query(ONLINE_AB, "Traffic share by variant")
VARIANT_P50 = panel_query(ONLINE_AB, "Latency p50 by variant")
VARIANT_P99 = panel_query(ONLINE_AB, "Latency p99 by variant")
LOOKUPS = panel_query(STATE, "Cache lookups by result")
QUEUE = panel_query(STATE, "Async queue depth")
AGREEMENT = panel_query(SHADOW, "Agreement rate")


@dataclass
class Row:
    model: str
    version: str
    role: str
    rps: float = 0.0
    share: float | None = None
    errors: float | None = None
    p50: float | None = None
    p99: float | None = None


@dataclass
class Cache:
    """A model's cache lookups per second, by result: hit, miss, and error (Redis down or slower
    than its timeout, each such request predicted without the cache)."""

    hit: float = 0.0
    miss: float = 0.0
    error: float = 0.0

    @property
    def lookups(self) -> float:
        return self.hit + self.miss + self.error


@dataclass
class Snapshot:
    rows: list[Row]
    cache: dict[str, Cache] = field(default_factory=dict)
    agreement: dict[str, float] = field(default_factory=dict)
    queue_depth: dict[str, float] = field(default_factory=dict)


def _by(samples: list[dict[str, Any]], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(s["metric"].get(label, "") for label in labels): value(s) for s in samples}


def snapshot(url: str, window: str, namespace: str = ".*") -> Snapshot:
    def run(expr: str) -> list[dict[str, Any]]:
        return query(url, substitute(expr, namespace=namespace, window=window))

    keys = ("model", "version", "role")
    rows = {key: Row(key[0], key[1], key[2], rps=rps) for key, rps in _by(run(RPS), *keys).items()}
    for name, expr in (("errors", ERRORS), ("p50", P50), ("p99", P99)):
        for key, number in _by(run(expr), *keys).items():
            if key in rows:
                setattr(rows[key], name, number)
    shares = _by(run(SHARE), "model", "role")
    for row in rows.values():
        row.share = shares.get((row.model, row.role))
    ordered = sorted(rows.values(), key=lambda r: (r.model, r.role != "primary", r.role, r.version))
    return Snapshot(ordered, caches(_by(run(LOOKUPS), "model", "result")),
                    {k[0]: v for k, v in _by(run(AGREEMENT), "model").items()},
                    {k[0]: v for k, v in _by(run(QUEUE), "model").items()})  # fmt: skip


def caches(by_result: dict[tuple[str, ...], float]) -> dict[str, Cache]:
    """{(model, result): lookups/s} as each model's Cache."""
    found: dict[str, Cache] = {}
    for (model, result), rate in by_result.items():
        if result in ("hit", "miss", "error"):
            setattr(found.setdefault(model, Cache()), result, rate)
    return found
