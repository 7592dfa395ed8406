"""What the comparison counts: Prometheus metrics (the names dashboards and alerts use) and the
running totals behind the on-demand summary."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from mlpatterns_server.compare.pairing import MAX_CLASS_PAIRS, Comparison, Unpaired
from mlpatterns_server.metrics import exposition

ABS_ERROR_BUCKETS = (0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 100.0, 1000.0)
LATENCY_DIFFERENCE_BUCKETS = (-1.0, -0.25, -0.1, -0.05, -0.025, -0.01, -0.005, -0.001, 0.0,
                              0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)  # fmt: skip
# Figures the summary's quantiles are read from, per model: a uniform sample of the rows.
SAMPLE_SIZE = 10_000


class Sample:
    """A uniform sample of a stream of numbers (reservoir sampling), for quantiles on demand."""

    def __init__(self, size: int = SAMPLE_SIZE, seed: int = 0) -> None:
        self.size = size
        self.seen = 0
        self.values: list[float] = []
        self._random = random.Random(seed)

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.values) < self.size:
            self.values.append(value)
        elif (slot := self._random.randrange(self.seen)) < self.size:
            self.values[slot] = value

    def quantiles(self) -> dict[str, float] | None:
        if not self.values:
            return None
        ordered = sorted(self.values)

        def at(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": ordered[-1]}


@dataclass
class ModelTotals:
    agree: int = 0
    disagree: int = 0
    missing: int = 0
    unpaired: dict[str, int] = field(default_factory=dict)
    incomparable: int = 0
    pairs: dict[tuple[str, str], int] = field(default_factory=dict)
    versions: tuple[str, str] = ("", "")
    abs_error: Sample = field(default_factory=Sample)
    latency_difference_ms: Sample = field(default_factory=Sample)

    def document(self) -> dict[str, Any]:
        compared = self.agree + self.disagree
        return {
            "primary_version": self.versions[0], "shadow_version": self.versions[1],
            "compared": compared, "agree": self.agree, "disagree": self.disagree, "missing": self.missing,
            "agreement_rate": self.agree / compared if compared else None,
            "unpaired": dict(sorted(self.unpaired.items())), "incomparable": self.incomparable,
            "disagreements": [
                {"primary_class": primary, "shadow_class": shadow, "rows": rows}
                for (primary, shadow), rows in sorted(self.pairs.items(), key=lambda item: -item[1])
            ],
            "abs_error": self.abs_error.quantiles(),
            "latency_difference_ms": self.latency_difference_ms.quantiles(),
        }  # fmt: skip


class Tally:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.comparisons = Counter(
            "mlpatterns_shadow_comparisons",
            "Rows compared between primary and shadow, by result: agree, disagree, missing (no partner in the window).",
            ["model", "result"],
            registry=self.registry,
        )
        self.disagreements = Counter(
            "mlpatterns_shadow_disagreements",
            "Rows where the classes differ, by the primary's and the shadow's class.",
            ["model", "primary_class", "shadow_class"],
            registry=self.registry,
        )
        self.abs_error = Histogram(
            "mlpatterns_shadow_abs_error",
            "|primary - shadow| per row, for numeric outputs.",
            ["model"],
            buckets=ABS_ERROR_BUCKETS,
            registry=self.registry,
        )
        self.latency_difference = Histogram(
            "mlpatterns_shadow_latency_difference_seconds",
            "The shadow's latency minus the primary's, per request.",
            ["model"],
            buckets=LATENCY_DIFFERENCE_BUCKETS,
            registry=self.registry,
        )
        self.unpaired = Counter(
            "mlpatterns_shadow_unpaired_events",
            "Events that found no partner within the window, by the role they came from.",
            ["model", "role"],
            registry=self.registry,
        )
        self.incomparable = Counter(
            "mlpatterns_shadow_incomparable",
            "Pairs whose outputs could not be compared (no output in common, another number of rows).",
            ["model"],
            registry=self.registry,
        )
        self.models: dict[str, ModelTotals] = {}

    def _totals(self, model: str) -> ModelTotals:
        totals = self.models.get(model)
        if totals is None:
            totals = self.models[model] = ModelTotals()
        return totals

    def compared(self, comparison: Comparison) -> None:
        model, totals = comparison.model, self._totals(comparison.model)
        totals.versions = (comparison.primary.version, comparison.shadow.version)
        if comparison.problem:
            totals.incomparable += 1
            self.incomparable.labels(model=model).inc()
            return
        totals.agree += comparison.agree
        totals.disagree += comparison.disagree
        self.comparisons.labels(model=model, result="agree").inc(comparison.agree)
        self.comparisons.labels(model=model, result="disagree").inc(comparison.disagree)
        for pair, rows in comparison.pairs.items():
            known = pair in totals.pairs or len(totals.pairs) < MAX_CLASS_PAIRS
            key = pair if known else ("other", "other")
            totals.pairs[key] = totals.pairs.get(key, 0) + rows
            self.disagreements.labels(model=model, primary_class=key[0], shadow_class=key[1]).inc(rows)
        for error in comparison.abs_errors:
            totals.abs_error.add(error)
            self.abs_error.labels(model=model).observe(error)
        difference = comparison.latency_difference_ms
        totals.latency_difference_ms.add(difference)
        self.latency_difference.labels(model=model).observe(difference / 1000)

    def gave_up(self, unpaired: Unpaired) -> None:
        event, totals = unpaired.event, self._totals(unpaired.event.model)
        totals.unpaired[event.role] = totals.unpaired.get(event.role, 0) + 1
        self.unpaired.labels(model=event.model, role=event.role).inc()
        if unpaired.missing:
            rows = _row_count(event.outputs)
            totals.missing += rows
            self.comparisons.labels(model=event.model, result="missing").inc(rows)

    def summary(self) -> dict[str, Any]:
        return {"models": {model: totals.document() for model, totals in sorted(self.models.items())}}

    def exposition(self, accept: str) -> tuple[bytes, str]:
        return exposition(self.registry, accept)


def _row_count(outputs: dict[str, Any]) -> int:
    for output in outputs.values():
        data = output.get("data") if isinstance(output, dict) else output
        return len(data) if isinstance(data, list) else 1
    return 1
