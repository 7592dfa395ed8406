"""PromQL building blocks the panels and the alerts share (window: Grafana's $__rate_interval
unless given)."""

from __future__ import annotations


def rate(metric: str, selector: str, window: str = "$__rate_interval") -> str:
    return f"rate({metric}{{{selector}}}[{window}])"


def quantile(q: float, metric: str, selector: str, by: str) -> str:
    return f"histogram_quantile({q}, sum by (le, {by}) ({rate(metric + '_bucket', selector)}))"


def ratio(numerator: str, denominator: str, by: str) -> str:
    """sum(numerator) / sum(denominator) by the same labels; 0, not nothing, when the numerator
    never happened (a counter of errors that has no series yet)."""
    top = f"sum by ({by}) ({numerator})"
    bottom = f"sum by ({by}) ({denominator})"
    return f"({top} or {bottom} * 0) / {bottom}"
