"""Reading a process's Prometheus metrics the way Prometheus does (labels in any order)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def sample(url: str, name: str, **labels: str) -> float:
    """The value of the first sample at `url` (a /metrics endpoint) named `name` whose labels
    include `labels`; 0 when there is none (a counter not incremented yet)."""
    for family in text_string_to_metric_families(httpx.get(url, timeout=10).text):
        for found in family.samples:
            if found.name == name and labels.items() <= found.labels.items():
                return float(found.value)
    return 0.0
