"""Prometheus' HTTP API (instant and range queries), and where to find the Prometheus that
`mlpatterns up` runs."""

from __future__ import annotations

from typing import Any

import httpx

from mlpatterns.local.supervisor import states


class PrometheusError(Exception):
    pass


def running_prometheus() -> list[tuple[str, str]]:
    """(chart, Prometheus URL) of every `mlpatterns up` running with a Prometheus."""
    return [(state["chart"], state["prometheus"]) for state in states() if state.get("prometheus")]


def _get(url: str, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        answer = httpx.get(f"{url}{path}", params=params, timeout=10)
        document = answer.json()
    except (httpx.HTTPError, ValueError) as error:
        raise PrometheusError(f"Prometheus at {url} did not answer: {error}") from None
    if document.get("status") != "success":
        raise PrometheusError(f"{params.get('query')}: {document.get('error', document)}")
    result: list[dict[str, Any]] = document["data"]["result"]
    return result


def query(url: str, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    """An instant vector: [{metric: {labels}, value: [time, "number"]}]."""
    return _get(url, "/api/v1/query", {"query": expr, **({"time": at} if at is not None else {})})


def query_range(url: str, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    """A matrix: [{metric: {labels}, values: [[time, "number"], ...]}]."""
    return _get(url, "/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step})


def value(sample: dict[str, Any]) -> float:
    return float(sample["value"][1])
