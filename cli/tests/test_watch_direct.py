"""`mlpatterns watch` without Prometheus reads the processes' /metrics twice and computes what the
dashboards' queries would: rates, shares of live traffic, error ratios, histogram quantiles, cache
lookups by result and shadow agreement. Against real exposition (prometheus-client's own HTTP server)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from mlpatterns.observe.command import cache_line
from mlpatterns.observe.direct import _quantile, snapshot
from tests.support.processes import free_port

BUCKETS = (0.01, 0.1, 1.0)


@pytest.fixture
def exporter() -> Iterator[tuple[str, CollectorRegistry]]:
    registry = CollectorRegistry()
    port = free_port()
    server, thread = start_http_server(port, "127.0.0.1", registry=registry)
    yield f"http://127.0.0.1:{port}/metrics", registry
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_quantiles_interpolate_in_the_bucket_as_prometheus_does() -> None:
    # 100 observations: 50 below 0.01, 40 in (0.01, 0.1], 10 in (0.1, 1].
    buckets = {0.01: 50.0, 0.1: 90.0, 1.0: 100.0, float("inf"): 100.0}
    assert _quantile(0.5, buckets) == pytest.approx(0.01)
    assert _quantile(0.7, buckets) == pytest.approx(0.01 + 0.09 * 0.5)
    assert _quantile(0.99, buckets) == pytest.approx(0.1 + 0.9 * 0.9)
    assert _quantile(0.5, {float("inf"): 0.0}) is None


def test_the_figures_are_the_differences_between_two_reads(exporter: tuple[str, CollectorRegistry]) -> None:
    url, registry = exporter
    requests = Counter("mlpatterns_requests", "", ["model", "version", "role", "code"], registry=registry)
    duration = Histogram("mlpatterns_request_duration_seconds", "", ["model", "version", "role"], buckets=BUCKETS,
                         registry=registry)  # fmt: skip
    cache = Counter("mlpatterns_cache_requests", "", ["model", "result"], registry=registry)
    compared = Counter("mlpatterns_shadow_comparisons", "", ["model", "result"], registry=registry)
    requests.labels("iris", "1", "primary", "200").inc(1000)  # before the first read: not counted

    def traffic() -> None:
        time.sleep(0.3)
        requests.labels("iris", "1", "primary", "200").inc(72)
        requests.labels("iris", "1", "primary", "500").inc(8)
        requests.labels("iris", "2", "canary", "200").inc(20)
        requests.labels("iris", "2", "shadow", "200").inc(80)  # mirrored copies: not live traffic
        for _ in range(9):
            duration.labels("iris", "1", "primary").observe(0.005)
        duration.labels("iris", "1", "primary").observe(0.5)
        cache.labels("iris", "hit").inc(3)
        cache.labels("iris", "miss").inc(1)
        cache.labels("iris", "error").inc(4)  # Redis slow: predicted without the cache
        compared.labels("iris", "agree").inc(6)
        compared.labels("iris", "disagree").inc(4)
        compared.labels("iris", "missing").inc(50)

    thread = threading.Thread(target=traffic)
    thread.start()
    view = snapshot([url], 1.0)
    thread.join()
    rows = {row.role: row for row in view.rows}
    assert set(rows) == {"primary", "canary", "shadow"}
    assert rows["primary"].rps == pytest.approx(80)
    assert rows["primary"].share == pytest.approx(0.8)
    assert rows["canary"].share == pytest.approx(0.2)
    assert rows["shadow"].share is None
    assert rows["primary"].errors == pytest.approx(0.1)
    assert rows["canary"].errors == 0
    assert rows["primary"].p50 == pytest.approx(0.01 * 5 / 9)
    assert 0.1 < (rows["primary"].p99 or 0) <= 1.0
    looked_up = view.cache["iris"]
    assert [looked_up.hit, looked_up.miss, looked_up.error] == pytest.approx([3.0, 1.0, 4.0])
    assert cache_line("iris", looked_up) == (
        "cache of iris: 37.5% hits, 12.5% misses, 50.0% Redis errors "
        "(4.0/s predicted without the cache: the dependency failed, the requests did not)"
    )
    assert view.agreement == {"iris": pytest.approx(0.6)}  # the unpaired ones are not agreement
