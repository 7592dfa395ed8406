"""Pairing a shadow's predictions with the primary's, with no I/O: events in (as the prediction
log writes them), comparisons out. Envoy keeps a request's x-request-id on its mirrored copy, and
our servers log it as `request_id`, so the two events of one request share it. An event waits
`window` seconds for its partner; one that never gets one is unpaired, which is never agreement.

Each row of a request is one comparison. Outputs are compared on the first output name both
events carry: labels (integers, text, booleans; any value with task "classification") agree when
equal and disagree by class pair; numbers (task "regression", or floats with task "auto") agree
when their difference is at most `tolerance` and feed the absolute-error figures; a row of scores
(probabilities) compares by its highest class."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Distinct class pairs counted by name per model; beyond, they are counted as "other" (a model
# with thousands of classes must not give Prometheus thousands of series).
MAX_CLASS_PAIRS = 100


@dataclass(frozen=True, slots=True)
class Logged:
    """What pairing keeps of one prediction-log event."""

    request_id: str
    model: str
    version: str
    role: str
    outputs: dict[str, Any]
    latency_ms: float
    arrived: float
    # The stream entry it came from, acknowledged once the event is paired or given up on.
    entry_id: str = ""

    @classmethod
    def from_event(cls, event: dict[str, Any], entry_id: str = "", arrived: float | None = None) -> Logged:
        return cls(
            str(event["request_id"]), str(event["model"]), str(event.get("version", "")), str(event["role"]),
            dict(event.get("outputs") or {}), float(event.get("latency_ms") or 0.0),
            time.monotonic() if arrived is None else arrived, entry_id,
        )  # fmt: skip


@dataclass
class Comparison:
    """One request's primary and shadow events, compared row by row."""

    model: str
    primary: Logged
    shadow: Logged
    output: str | None = None
    agree: int = 0
    disagree: int = 0
    # (primary class, shadow class) -> rows, for classifiers.
    pairs: dict[tuple[str, str], int] = field(default_factory=dict)
    # |primary - shadow| per row, for numeric outputs.
    abs_errors: list[float] = field(default_factory=list)
    # Why the two could not be compared (no common output, a different number of rows).
    problem: str = ""

    @property
    def latency_difference_ms(self) -> float:
        return self.shadow.latency_ms - self.primary.latency_ms


@dataclass(frozen=True)
class Unpaired:
    event: Logged
    # Whether it counts as a missing comparison: a shadow event always does (the shadow saw a
    # request the primary never logged); a primary event only when every request is mirrored.
    missing: bool


class Pairing:
    def __init__(
        self, primary_role: str, shadow_role: str, window_seconds: float, tolerance: float,
        every_request_mirrored: bool, task: str = "auto", max_waiting: int = 200_000,
    ) -> None:  # fmt: skip
        self.task = task
        self.primary_role = primary_role
        self.shadow_role = shadow_role
        self.window = window_seconds
        self.tolerance = tolerance
        self.every_request_mirrored = every_request_mirrored
        self.max_waiting = max_waiting
        # (model, request id) -> the first of the two events, oldest first.
        self.waiting: OrderedDict[tuple[str, str], Logged] = OrderedDict()

    def add(self, event: Logged) -> Comparison | Unpaired | None:
        """Take one event: its comparison when its partner was waiting, an unpaired event when it
        is of neither role or a duplicate, else None (it waits)."""
        if event.role not in (self.primary_role, self.shadow_role):
            return None
        key = (event.model, event.request_id)
        partner = self.waiting.get(key)
        if partner is None:
            self.waiting[key] = event
            return None
        if partner.role == event.role:  # a second event of one role for one request: a retry
            return Unpaired(event, missing=False)
        del self.waiting[key]
        primary, shadow = (partner, event) if partner.role == self.primary_role else (event, partner)
        try:
            return compare(primary, shadow, self.tolerance, self.task)
        except (TypeError, ValueError) as error:  # outputs of shapes no row comparison fits (scores of text)
            return Comparison(primary.model, primary, shadow, problem=f"cannot be compared: {error}")

    def expire(self, now: float | None = None) -> list[Unpaired]:
        """The events whose window has passed (or beyond the most that may wait), oldest first."""
        now = time.monotonic() if now is None else now
        gone: list[Unpaired] = []
        while self.waiting:
            key, event = next(iter(self.waiting.items()))
            if now - event.arrived < self.window and len(self.waiting) <= self.max_waiting:
                break
            del self.waiting[key]
            gone.append(Unpaired(event, missing=event.role == self.shadow_role or self.every_request_mirrored))
        return gone

    def waiting_entries(self) -> Iterable[str]:
        return (event.entry_id for event in self.waiting.values())


def compare(primary: Logged, shadow: Logged, tolerance: float, task: str = "auto") -> Comparison:
    result = Comparison(primary.model, primary, shadow)
    common = [name for name in primary.outputs if name in shadow.outputs]
    if not common:
        result.problem = f"no output in common ({', '.join(primary.outputs)} vs {', '.join(shadow.outputs)})"
        return result
    result.output = common[0]
    ours, theirs = _rows(primary.outputs[result.output]), _rows(shadow.outputs[result.output])
    if len(ours) != len(theirs):
        result.problem = f"{len(ours)} rows against {len(theirs)}"
        return result
    for left, right in zip(ours, theirs, strict=True):
        _compare_row(result, left, right, tolerance, task)
    return result


def _rows(output: Any) -> list[Any]:
    if isinstance(output, dict) and "data" in output:  # a tensor written with its shape
        output = output["data"]
    return list(output) if isinstance(output, list) else [output]


def _compare_row(result: Comparison, left: Any, right: Any, tolerance: float, task: str) -> None:
    if isinstance(left, list) and isinstance(right, list) and left and _numeric(left[0]):
        left, right = _top_class(left), _top_class(right)  # scores: compare the classes they pick
    labels = task == "classification" or (task == "auto" and _is_label(left) and _is_label(right))
    if labels and not isinstance(left, list) and not isinstance(right, list):
        key = (str(left), str(right))
        if left == right:
            result.agree += 1
        else:
            result.disagree += 1
            result.pairs[key] = result.pairs.get(key, 0) + 1
        return
    if _numeric(left) and _numeric(right):
        error = abs(float(left) - float(right))
        result.abs_errors.append(error)
        if error <= tolerance:
            result.agree += 1
        else:
            result.disagree += 1
        return
    if left == right:
        result.agree += 1
    else:
        result.disagree += 1


def _is_label(value: Any) -> bool:
    return isinstance(value, (str, bool)) or (isinstance(value, int) and not isinstance(value, bool))


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _top_class(scores: list[Any]) -> int:
    return max(range(len(scores)), key=lambda index: scores[index])
