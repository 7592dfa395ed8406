"""Prometheus metrics on a registry of our own. With several workers every process writes to
PROMETHEUS_MULTIPROC_DIR and /metrics sums them, so counts are right whichever worker is scraped."""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def serve_port(registry: CollectorRegistry, port: int, host: str) -> Callable[[], None]:
    server, thread = start_http_server(port, host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


def workers_registry() -> CollectorRegistry:
    """What the parent of several workers serves on the metrics port: the sum of theirs."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


class ServerMetrics:
    def __init__(self, model: str, version: str, role: str) -> None:
        self.registry = CollectorRegistry()
        shared = multiprocess_dir() is not None
        # In multiprocess mode values live in files; the collector reads them all, so the metrics
        # themselves must stay out of the registry or they would be counted twice.
        target = None if shared else self.registry
        if shared:
            MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        self._labels = {"model": model, "version": version, "role": role}
        self.requests = Counter(
            "mlpatterns_requests",
            "Requests by model, version, role and HTTP status code.",
            ["model", "version", "role", "code"],
            registry=target,
        )
        duration = Histogram(
            "mlpatterns_request_duration_seconds",
            "Time to answer an inference request.",
            ["model", "version", "role"],
            buckets=LATENCY_BUCKETS,
            registry=target,
        )
        self.duration = duration.labels(**self._labels)
        self.in_flight = Gauge(
            "mlpatterns_requests_in_flight",
            "Inference requests being answered.",
            ["model", "version", "role"],
            multiprocess_mode="livesum",
            registry=target,
        ).labels(**self._labels)
        self.model_load = Gauge(
            "mlpatterns_model_load_seconds",
            "Seconds the model took to load.",
            ["model", "version"],
            multiprocess_mode="max",
            registry=target,
        )
        self.prediction_log_events = Counter(
            "mlpatterns_prediction_log_events",
            "Prediction-log events by sink and result (sent, dropped, error).",
            ["sink", "result"],
            registry=target,
        )
        self.prediction_log_buffered = Gauge(
            "mlpatterns_prediction_log_buffered_events",
            "Events waiting in the prediction-log buffer.",
            ["sink"],
            multiprocess_mode="livesum",
            registry=target,
        )
        self.batch_rows = Histogram(
            "mlpatterns_batch_size_rows",
            "Rows per micro-batch predict call.",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=target,
        ).labels(model=model)
        self.cache_requests = Counter(
            "mlpatterns_cache_requests",
            "Prediction-cache lookups by result: hit, miss, error (Redis down or slow; predicted as usual).",
            ["model", "result"],
            registry=target,
        )
        self.http_refused = Counter(
            "mlpatterns_http_refused",
            "Requests refused before they reached a handler, by reason (header_timeout, headers_too_large, "
            "pipeline_overflow).",
            ["reason"],
            registry=target,
        )
        self._by_code: dict[int, Counter] = {}

    def observe(self, code: int, seconds: float) -> None:
        """One answered inference request (the hot path: label children are cached)."""
        counter = self._by_code.get(code)
        if counter is None:
            counter = self._by_code[code] = self.requests.labels(code=str(code), **self._labels)
        counter.inc()
        self.duration.observe(seconds)

    def refused(self, reason: str) -> None:
        self.http_refused.labels(reason=reason).inc()

    def loaded(self, seconds: float) -> None:
        self.model_load.labels(model=self._labels["model"], version=self._labels["version"]).set(seconds)

    def serve_port(self, port: int, host: str) -> Callable[[], None]:
        """/metrics on a port of its own (a thread of prometheus-client's); returns how to stop it."""
        return serve_port(self.registry, port, host)

    def exposition(self, accept: str) -> tuple[bytes, str]:
        return exposition(self.registry, accept)


def exposition(registry: CollectorRegistry, accept: str) -> tuple[bytes, str]:
    """A registry's metrics in the format the scraper asks for (Prometheus text 0.0.4 by default)."""
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
