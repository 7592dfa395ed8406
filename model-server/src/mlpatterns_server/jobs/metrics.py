"""The asynchronous pattern's metrics, on the registry of the process's server metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class JobMetrics:
    def __init__(self, registry: CollectorRegistry, model: str) -> None:
        self.jobs = Counter(
            "mlpatterns_async_jobs",
            "Jobs by state: submitted, done, failed, retried (left for another attempt).",
            ["model", "state"],
            registry=registry,
        )
        self.depth = Gauge(
            "mlpatterns_async_queue_depth", "Jobs submitted and not finished.", ["model"], registry=registry
        ).labels(model=model)
        self.oldest = Gauge(
            "mlpatterns_async_oldest_job_seconds",
            "Age of the oldest job not finished (0 when there is none).",
            ["model"],
            registry=registry,
        ).labels(model=model)
        self.model = model

    def count(self, state: str, amount: int = 1) -> None:
        if amount:
            self.jobs.labels(model=self.model, state=state).inc(amount)
