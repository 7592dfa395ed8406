"""The collector's metrics: what it received and what it landed, so a prediction log that stops
landing (storage refusing writes, a lander that falls behind) shows before anyone needs the data."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from mlpatterns_server.metrics import exposition
from mlpatterns_server.predlog.deadletters import dead_letter_counter


class CollectorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "mlpatterns_collector_events",
            "Events received, by source (kserve: the logger's request or response; server: ours) and result "
            "(appended to the stream, held for its partner, duplicate, rejected, unavailable: Redis down).",
            ["source", "result"],
            registry=self.registry,
        )
        self.landed_events = Counter(
            "mlpatterns_collector_landed_events",
            "Events written to Parquet, by model.",
            ["model"],
            registry=self.registry,
        )
        self.landed_files = Counter(
            "mlpatterns_collector_landed_files", "Parquet files written.", registry=self.registry
        )
        self.land_errors = Counter(
            "mlpatterns_collector_land_errors",
            "Landing attempts that failed (storage or Redis); the events are kept and landed on a later attempt.",
            registry=self.registry,
        )
        self.unlanded = Gauge(
            "mlpatterns_collector_unlanded_events",
            "Events the lander has read and not yet written.",
            registry=self.registry,
        )
        self.oldest_unlanded = Gauge(
            "mlpatterns_collector_oldest_unlanded_seconds",
            "Age of the oldest event the lander has read and not yet written (0 when there is none).",
            registry=self.registry,
        )
        self.backlog = Gauge(
            "mlpatterns_collector_stream_backlog_events",
            "Events in the stream the lander has not read yet (the consumer group's lag).",
            registry=self.registry,
        )

        self.dead_letters = dead_letter_counter(self.registry)

    def exposition(self, accept: str) -> tuple[bytes, str]:
        return exposition(self.registry, accept)
