"""`mlpatterns watch` without Prometheus (`up --no-prometheus`, or none installed): the processes'
own /metrics, read twice, and the same figures the dashboards' queries compute from the difference
(rates over the interval; latency quantiles interpolated in the histogram's buckets, as
Prometheus' histogram_quantile does)."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from mlpatterns.observe.views import Row, Snapshot, caches

Sample = dict[tuple[str, tuple[tuple[str, str], ...]], float]
KEY = ("model", "version", "role")


def read(urls: Iterable[str]) -> Sample:
    """Every sample of every process, summed across processes."""
    totals: Sample = defaultdict(float)
    for url in urls:
        try:
            text = httpx.get(url, timeout=5).text
        except httpx.HTTPError:
            continue  # a process restarting: the next read has it
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith("mlpatterns_"):
                    totals[(sample.name, tuple(sorted(sample.labels.items())))] += sample.value
    return totals


def _grouped(before: Sample, after: Sample, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    grouped: dict[tuple[str, ...], float] = defaultdict(float)
    for (sample, pairs), value in after.items():
        if sample == name:
            found = dict(pairs)
            # A counter that went down was restarted: its whole value is new.
            old = before.get((sample, pairs), 0.0)
            grouped[tuple(found.get(label, "") for label in labels)] += value - old if value >= old else value
    return grouped


def _quantile(q: float, buckets: dict[float, float]) -> float | None:
    """histogram_quantile over cumulative bucket counts {upper bound: count}."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank, lower, below = q * buckets[bounds[-1]], 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 0)
        lower, below = bound, count
    return None


def snapshot(metrics_urls: list[str], seconds: float) -> Snapshot:
    before = read(metrics_urls)
    time.sleep(seconds)
    after = read(metrics_urls)
    requests = _grouped(before, after, "mlpatterns_requests_total", *KEY, "code")
    rows: dict[tuple[str, ...], Row] = {}
    errors: dict[tuple[str, ...], float] = defaultdict(float)
    for (model, version, role, code), count in requests.items():
        row = rows.setdefault((model, version, role), Row(model, version, role))
        row.rps += count / seconds
        errors[(model, version, role)] += count if code.startswith("5") else 0
    live: dict[str, float] = defaultdict(float)
    for row in rows.values():
        row.errors = errors[(row.model, row.version, row.role)] / (row.rps * seconds) if row.rps else None
        if row.role != "shadow":
            live[row.model] += row.rps
    for row in rows.values():
        row.share = row.rps / live[row.model] if row.role != "shadow" and live[row.model] else None
    buckets: dict[tuple[str, ...], dict[float, float]] = defaultdict(dict)
    for (*series, le), count in _grouped(
        before, after, "mlpatterns_request_duration_seconds_bucket", *KEY, "le"
    ).items():
        buckets[tuple(series)][float(le)] = count
    for key, row in rows.items():
        row.p50, row.p99 = _quantile(0.5, buckets.get(key, {})), _quantile(0.99, buckets.get(key, {}))
    ordered = sorted(rows.values(), key=lambda r: (r.model, r.role != "primary", r.role, r.version))
    lookups = {key: count / seconds for key, count in
               _grouped(before, after, "mlpatterns_cache_requests_total", "model", "result").items()}  # fmt: skip
    agreement = _ratio(before, after, "mlpatterns_shadow_comparisons_total", "agree", ("agree", "disagree"))
    depth: dict[str, float] = defaultdict(float)
    for (name, pairs), number in after.items():
        if name == "mlpatterns_async_queue_depth":
            depth[dict(pairs).get("model", "")] = max(depth[dict(pairs).get("model", "")], number)
    return Snapshot(ordered, caches(lookups), agreement, dict(depth))


def requests_counted(metrics_urls: list[str]) -> float:
    """How many requests the processes have counted since they started."""
    return sum(count for (name, _), count in read(metrics_urls).items() if name == "mlpatterns_requests_total")


def _ratio(before: Sample, after: Sample, name: str, top: str, within: tuple[str, ...]) -> dict[str, float]:
    counts = _grouped(before, after, name, "model", "result")
    ratios = {}
    for model in {model for model, _ in counts}:
        total = sum(counts.get((model, result), 0.0) for result in within)
        if total:
            ratios[model] = counts.get((model, top), 0.0) / total
    return ratios
