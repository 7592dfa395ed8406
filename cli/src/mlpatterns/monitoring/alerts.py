"""The kit's alert rules, one table: each alert's PromQL over the metric names of DESIGN.md, how
long it must hold, and what it means. Written as a Prometheus rule file (manifests/monitoring/rules,
which `mlpatterns up`'s Prometheus loads and `promtool test rules` tests), as a PrometheusRule, and
into the library chart, where a release scopes them to its namespace and sets the thresholds.

An expression is built from a scope (extra label matchers: empty, or the release's namespace) and
the alert's threshold, so the three outputs are one text with different blanks filled in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlpatterns.monitoring.promql import ratio

# Names of the `rules` groups, in the order they are written.
GROUPS = ("serving", "variants", "shadow", "prediction-log", "async", "cache")


@dataclass(frozen=True)
class Threshold:
    value: str  # the chart's values key under monitoring.rules
    default: float
    meaning: str  # its values.yaml comment


@dataclass(frozen=True)
class Blanks:
    """What an expression leaves open: label matchers in front of each selector's own, the
    threshold, and the role of the variant the others are held against."""

    scope: str
    threshold: str
    primary: str


@dataclass(frozen=True)
class Alert:
    name: str
    group: str
    expr: Callable[[Blanks], str]
    hold: str  # Prometheus' `for`
    severity: str
    summary: str
    description: str
    threshold: Threshold | None = None


def _sel(blanks: Blanks, matchers: str = "") -> str:
    parts = ", ".join(part for part in (blanks.scope, matchers) if part)
    return "{" + parts + "}" if parts else ""


SERVER_ERROR = 'code=~"5.."'
DISAGREE = 'result="disagree"'
COMPARED = 'result=~"agree|disagree"'
NOT_LOGGED = 'result=~"dropped|error"'
CACHE_ERROR = 'result="error"'


def _error_ratio(blanks: Blanks, role: str) -> str:
    requests = f"rate(mlpatterns_requests_total{_sel(blanks, role)}[5m])"
    errors = f"rate(mlpatterns_requests_total{_sel(blanks, f'{role}, {SERVER_ERROR}')}[5m])"
    return f"({ratio(errors, requests, 'namespace, model, role')})"


def _variant_errors(b: Blanks) -> str:
    variants, primary = f'role!~"{b.primary}|shadow"', f'role="{b.primary}"'
    # group_left: many variants against the one primary of their namespace and model.
    held_against = f"({_error_ratio(b, primary)} + {b.threshold})"
    return f"{_error_ratio(b, variants)} > on (namespace, model) group_left () {held_against}"


def _disagreement(b: Blanks) -> str:
    rows = "sum by (namespace, model) (rate(mlpatterns_shadow_comparisons_total{}[10m]))"
    return f"{rows.format(_sel(b, DISAGREE))} / {rows.format(_sel(b, COMPARED))} > {b.threshold}"


def _cache_errors(b: Blanks) -> str:
    lookups = "sum by (namespace, model) (rate(mlpatterns_cache_requests_total{}[5m]))"
    return f"{lookups.format(_sel(b, CACHE_ERROR))} / {lookups.format(_sel(b))} > {b.threshold}"


ALERTS = (
    Alert(
        "MlpatternsLatencyP99High", "serving",
        lambda b: "histogram_quantile(0.99, sum by (le, namespace, model, version, role) "
                  f"(rate(mlpatterns_request_duration_seconds_bucket{_sel(b)}[5m]))) > {b.threshold}",
        "10m", "warning",
        "p99 latency of {{ $labels.model }} {{ $labels.version }} ({{ $labels.role }}) is "
        "{{ $value | humanizeDuration }}",
        "The slowest 1% of requests take longer than the latency objective.",
        Threshold("latencyP99Seconds", 0.5, "Seconds the p99 latency of a model may reach before it alerts."),
    ),
    Alert(
        "MlpatternsVariantErrorRatioAbovePrimary", "variants",
        _variant_errors,
        "5m", "critical",
        "{{ $labels.role }} of {{ $labels.model }} fails {{ $value | humanizePercentage }} of its requests, "
        "more than the primary",
        "A variant's 5xx ratio is above the primary's by more than the margin: take its weight back to 0.",
        Threshold("variantErrorMargin", 0.01, "How far (0 to 1) a variant's 5xx ratio may exceed the primary's."),
    ),
    Alert(
        "MlpatternsShadowDisagreementHigh", "shadow",
        _disagreement,
        "10m", "warning",
        "the shadow of {{ $labels.model }} disagrees with the primary on {{ $value | humanizePercentage }} of rows",
        "The candidate answers differently from the primary more often than allowed: do not promote it.",
        Threshold("shadowMaxDisagreement", 0.05, "Share (0 to 1) of compared rows the shadow may disagree on."),
    ),
    Alert(
        "MlpatternsPredictionLogDropping", "prediction-log",
        lambda b: "sum by (namespace, pod, sink) (rate(mlpatterns_prediction_log_events_total"
                  f"{_sel(b, NOT_LOGGED)}[5m])) > 0",
        "5m", "warning",
        "{{ $labels.pod }} drops prediction-log events ({{ $labels.sink }} sink)",
        "Predictions are answered but not logged: the sink is down or slower than the traffic.",
    ),
    Alert(
        "MlpatternsDeadLetters", "prediction-log",
        lambda b: f"sum by (namespace, consumer, reason) (increase(mlpatterns_dead_letters_total{_sel(b)}[10m])) > 0",
        "0m", "warning",
        "{{ $labels.consumer }} moved {{ $value | humanize }} entries to the dead letters ({{ $labels.reason }})",
        "Entries of the prediction-log stream were refused and kept aside: list them with `mlpatterns-server "
        "deadletters`, fix the writer or the reader, then re-drive them.",
    ),
    Alert(
        "MlpatternsAsyncBacklogGrowing", "async",
        lambda b: f"max by (namespace, model) (deriv(mlpatterns_async_queue_depth{_sel(b)}[10m])) > 0"
                  f" and max by (namespace, model) (mlpatterns_async_queue_depth{_sel(b)}) > {b.threshold}",
        "10m", "warning",
        "{{ $labels.model }}'s job queue keeps growing",
        "Jobs arrive faster than the workers finish them: scale the workers (KEDA's maxReplicaCount).",
        Threshold("asyncMaxQueueDepth", 100, "Jobs that may wait before a growing queue alerts."),
    ),
    Alert(
        "MlpatternsAsyncOldestJobTooOld", "async",
        lambda b: f"max by (namespace, model) (mlpatterns_async_oldest_job_seconds{_sel(b)}) > {b.threshold}",
        "5m", "warning",
        "{{ $labels.model }}'s oldest unfinished job is {{ $value | humanizeDuration }} old",
        "A job waits longer than clients are told to wait: workers are stuck, crashing or too few.",
        Threshold("asyncMaxJobAgeSeconds", 300, "Seconds a job may wait unfinished."),
    ),
    Alert(
        "MlpatternsCacheErrors", "cache",
        _cache_errors,
        "5m", "warning",
        "{{ $labels.model }}'s cache fails {{ $value | humanizePercentage }} of lookups",
        "Redis is down or slow: predictions are still answered, each by the model, so latency and load rise.",
        Threshold("cacheMaxErrorRatio", 0.05, "Share (0 to 1) of cache lookups that may fail."),
    ),
)  # fmt: skip


def thresholds(groups: tuple[str, ...]) -> list[Threshold]:
    return [alert.threshold for alert in ALERTS if alert.group in groups and alert.threshold]


def _number(value: float) -> str:
    return f"{value:g}"


def group(name: str, fill: Callable[[Alert], Blanks]) -> dict[str, Any]:
    rules = []
    for alert in ALERTS:
        if alert.group != name:
            continue
        rules.append({
            "alert": alert.name,
            "expr": alert.expr(fill(alert)),
            "for": alert.hold,
            "labels": {"severity": alert.severity},
            "annotations": {
                "summary": alert.summary,
                "description": alert.description,
                "runbook": f"docs/observability.md#{alert.name.lower()}",
            },
        })  # fmt: skip
    return {"name": f"mlpatterns-{name}", "rules": rules}


def defaults(alert: Alert) -> Blanks:
    return Blanks("", _number(alert.threshold.default) if alert.threshold else "", "primary")


def rule_file() -> dict[str, Any]:
    """Every group with the default thresholds, over every namespace."""
    return {"groups": [group(name, defaults) for name in GROUPS]}
