"""The panels of the kit's four dashboards: each a question a user asks, the PromQL that answers it
and the unit. The Grafana JSON (dashboards.py), `mlpatterns watch` and `mlpatterns report` all read
this one table, and the proof test evaluates every query here against a real Prometheus.

Queries use Grafana's template variables: $namespace, $model and $version (multi-value, matched as
regular expressions) and $__rate_interval."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlpatterns.monitoring.promql import quantile, rate, ratio

SERVER = 'namespace=~"$namespace", model=~"$model", version=~"$version"'
MODEL = 'namespace=~"$namespace", model=~"$model"'
NAMESPACE = 'namespace=~"$namespace"'
# The variants that take live traffic: every role but the shadow, whose requests are mirrored copies.
LIVE = 'role!="shadow"'
SHADOW_ROLE = f'{SERVER}, role="shadow"'


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    question: str  # what it answers (the panel's description; docs/observability.md)
    unit: str
    queries: tuple[Query, ...]
    # What must run for the panel to have data: requests, variants, shadow, unpaired, cache, async, batching, log.
    needs: str = "requests"
    stacked: bool = False
    report: bool = False  # drawn by `mlpatterns report` for the patterns whose dashboards hold it


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    file: str
    summary: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


def _requests(selector: str) -> str:
    return rate("mlpatterns_requests_total", selector)


def _latency(by: str, legend: str, selector: str = SERVER) -> tuple[Query, ...]:
    return tuple(
        Query(quantile(q, "mlpatterns_request_duration_seconds", selector, by), f"p{int(q * 100)} {legend}")
        for q in (0.5, 0.95, 0.99)
    )


OVERVIEW = Dashboard(
    "mlpatterns-overview", "mlpatterns / Overview", "overview.json",
    "Every model the kit serves: traffic, errors, latency and load time, by model, version and role.",
    (
        Panel("Requests per second", "How much traffic does each model, version and role answer?", "reqps",
              (Query(f"sum by (model, version, role) ({_requests(SERVER)})", "{{model}} {{version}} {{role}}"),),
              report=True),
        Panel("Error ratio (5xx)", "What share of requests does the server fail (4xx are the client's)?",
              "percentunit",
              (Query(ratio(_requests(f'{SERVER}, code=~"5.."'), _requests(SERVER), "model, version, role"),
                     "{{model}} {{version}} {{role}}"),), report=True),
        Panel("Latency p50 / p95 / p99", "How long do answers take, at the median and in the tail?", "s",
              _latency("model, version, role", "{{model}} {{version}} {{role}}"), report=True),
        Panel("Requests in flight", "How many requests is each server answering right now?", "short",
              (Query("sum by (model, version, role) (mlpatterns_requests_in_flight{" + SERVER + "})",
                     "{{model}} {{version}} {{role}}"),)),
        Panel("Model load time", "How long did each version take to load at start?", "s",
              (Query("max by (model, version) (mlpatterns_model_load_seconds{" + SERVER + "})",
                     "{{model}} {{version}}"),)),
    ),
)  # fmt: skip

ONLINE_AB = Dashboard(
    "mlpatterns-online-ab", "mlpatterns / Online AB and canary", "online-ab.json",
    "Live traffic split between variants: the share each gets, and their errors and latency side by side.",
    (
        Panel("Traffic share by variant", "Does each variant get the share of live traffic the weights say?",
              "percentunit",
              (Query(f"sum by (namespace, model, role) ({_requests(f'{SERVER}, {LIVE}')})"
                     f" / ignoring (role) group_left sum by (namespace, model) ({_requests(f'{SERVER}, {LIVE}')})",
                     "{{role}}"),), needs="variants", stacked=True, report=True),
        Panel("Requests per second by variant", "How much traffic does each variant answer?", "reqps",
              (Query(f"sum by (role, version) ({_requests(f'{SERVER}, {LIVE}')})", "{{role}} {{version}}"),),
              needs="variants"),
        Panel("Error ratio by variant", "Does a variant fail more often than the others?", "percentunit",
              (Query(ratio(_requests(f'{SERVER}, {LIVE}, code=~"5.."'), _requests(f"{SERVER}, {LIVE}"),
                           "role, version"), "{{role}} {{version}}"),), needs="variants"),
        Panel("Latency p50 by variant", "Is a variant slower at the median?", "s",
              (Query(quantile(0.5, "mlpatterns_request_duration_seconds", f"{SERVER}, {LIVE}", "role, version"),
                     "{{role}} {{version}}"),), needs="variants"),
        Panel("Latency p99 by variant", "Is a variant slower in the tail?", "s",
              (Query(quantile(0.99, "mlpatterns_request_duration_seconds", f"{SERVER}, {LIVE}", "role, version"),
                     "{{role}} {{version}}"),), needs="variants", report=True),
    ),
)  # fmt: skip

_COMPARED = 'result=~"agree|disagree"'

SHADOW = Dashboard(
    "mlpatterns-shadow", "mlpatterns / Shadow", "shadow.json",
    "A candidate answering mirrored traffic beside the primary: how often they agree, where they differ.",
    (
        Panel("Mirrored requests per second", "How much traffic does the shadow receive?", "reqps",
              (Query(f"sum by (model, version) ({_requests(SHADOW_ROLE)})", "{{model}} {{version}}"),),
              needs="shadow"),
        Panel("Agreement rate", "How often does the shadow give the primary's answer?", "percentunit",
              (Query(ratio(rate("mlpatterns_shadow_comparisons_total", f'{MODEL}, result="agree"'),
                           rate("mlpatterns_shadow_comparisons_total", f"{MODEL}, {_COMPARED}"), "model"),
                     "{{model}}"),), needs="shadow", report=True),
        Panel("Disagreements by class", "Which primary class does the shadow answer differently, and with what?",
              "short",
              (Query("sum by (model, primary_class, shadow_class) ("
                     + rate("mlpatterns_shadow_disagreements_total", MODEL) + ")",
                     "{{primary_class}} → {{shadow_class}}"),), needs="shadow", stacked=True),
        Panel("Latency difference (shadow minus primary)", "Is the candidate slower than the primary on a request?",
              "s",
              tuple(Query(quantile(q, "mlpatterns_shadow_latency_difference_seconds", MODEL, "model"),
                          f"p{int(q * 100)} {{{{model}}}}") for q in (0.5, 0.99)), needs="shadow", report=True),
        Panel("Events missing a partner", "Are events lost on either side (a mirror not sent, a log dropped)?",
              "short",
              (Query("sum by (model, role) (" + rate("mlpatterns_shadow_unpaired_events_total", MODEL) + ")",
                     "{{model}} {{role}}"),), needs="unpaired"),
    ),
)  # fmt: skip

STATE = Dashboard(
    "mlpatterns-state", "mlpatterns / Serving with state", "serving-with-state.json",
    "The patterns that keep state beside the model: the prediction cache, the async queue, micro-batching, "
    "the prediction log.",
    (
        Panel("Cache hit ratio", "What share of predictions come from the cache?", "percentunit",
              (Query(ratio(rate("mlpatterns_cache_requests_total", f'{MODEL}, result="hit"'),
                           rate("mlpatterns_cache_requests_total", MODEL), "model"), "{{model}}"),), needs="cache",
              report=True),
        Panel("Cache lookups by result", "Is the cache answering, missing, or failing (errors: Redis down or slow)?",
              "reqps",
              (Query("sum by (model, result) (" + rate("mlpatterns_cache_requests_total", MODEL) + ")",
                     "{{model}} {{result}}"),), needs="cache", stacked=True),
        Panel("Cache dependency errors (predicted without the cache)",
              "How often does Redis fail or answer later than cache.timeoutMs? Each such request is predicted as "
              "usual (the cache fails open): an error of the cache's dependency, not a failed request.",
              "percentunit",
              (Query(ratio(rate("mlpatterns_cache_requests_total", f'{MODEL}, result="error"'),
                           rate("mlpatterns_cache_requests_total", MODEL), "model"), "{{model}}"),), needs="cache",
              report=True),
        Panel("Async queue depth", "How many jobs wait or run?", "short",
              (Query("max by (model) (mlpatterns_async_queue_depth{" + MODEL + "})", "{{model}}"),), needs="async",
              report=True),
        Panel("Async oldest job age", "How far behind are the workers (the age of the oldest unfinished job)?",
              "s",
              (Query("max by (model) (mlpatterns_async_oldest_job_seconds{" + MODEL + "})", "{{model}}"),),
              needs="async"),
        Panel("Async jobs by state", "Are jobs submitted, finished or failing?", "reqps",
              (Query("sum by (model, state) (" + rate("mlpatterns_async_jobs_total", MODEL) + ")",
                     "{{model}} {{state}}"),), needs="async"),
        Panel("Micro-batched rows per second", "How many rows go through batched predict calls?", "short",
              (Query("sum by (model) (" + rate("mlpatterns_batch_size_rows_sum", MODEL) + ")", "{{model}}"),),
              needs="batching"),
        Panel("Mean micro-batch size", "How many rows does each predict call join?", "short",
              (Query("sum by (model) (" + rate("mlpatterns_batch_size_rows_sum", MODEL) + ") / sum by (model) ("
                     + rate("mlpatterns_batch_size_rows_count", MODEL) + ")", "{{model}}"),), needs="batching",
              report=True),
        Panel("Prediction-log events", "Are events sent, or dropped or failing on their way to the log?", "reqps",
              (Query("sum by (sink, result) (" + rate("mlpatterns_prediction_log_events_total", NAMESPACE) + ")",
                     "{{sink}} {{result}}"),), needs="log", stacked=True, report=True),
    ),
)  # fmt: skip

DASHBOARDS = (OVERVIEW, ONLINE_AB, SHADOW, STATE)


def substitute(expr: str, namespace: str = ".*", model: str = ".*", version: str = ".*", window: str = "5m") -> str:
    """A panel's query as Grafana sends it, with the variables chosen (`watch`, `report`, the tests)."""
    for name, value in (("$__rate_interval", window), ("$namespace", namespace), ("$model", model),
                        ("$version", version)):  # fmt: skip
        expr = expr.replace(name, value)
    return expr
