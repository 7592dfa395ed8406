"""Combining an Ensemble's answers, with no transport: the body KServe's router sends after an
Ensemble node ({"<step>": <that step's answer>, ...}) in, one v1 answer out. Pure functions, so
each method is tested in-process against the same numbers numpy gives.

A step's answer is v1 ({"predictions": [...]}) or v2 ({"outputs": [{"shape", "data", ...}]}, the
first output); anything else, such as the error body of a Soft step that failed, is a missing
answer, named in the result's "missing" with its reason."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlpatterns_server.errors import InvalidInput, ServerError

METHODS = ("vote", "mean", "weighted-mean", "all")


class TooFewAnswers(ServerError):
    """The ensemble's steps failed (Soft ones; a Hard one fails the graph before this step)."""

    status_code = 502


class Unaggregatable(ServerError):
    """The steps answered, but their answers cannot be combined this way."""

    status_code = 422


@dataclass(frozen=True)
class Answers:
    rows: dict[str, list[Any]]  # step -> its predictions, one per row, in the steps' order
    missing: dict[str, str]  # step -> why it has no answer


def read_answers(body: Any, steps: Sequence[str]) -> Answers:
    """The steps' predictions from an Ensemble's body; `steps`, when given, are the expected steps
    in their order (ties in a vote go to the earliest)."""
    if not isinstance(body, dict):
        raise InvalidInput(
            'the body must be a JSON object of the ensemble\'s answers by step name ({"<step>": {"predictions": '
            f"[...]}}, ...}}), not {type(body).__name__}"
        )
    if steps:
        unknown = [name for name in body if name not in steps]
        if unknown:
            raise InvalidInput(f"step {unknown[0]!r} is not one of this aggregator's steps ({', '.join(steps)})")
    order = list(steps) or list(body)
    rows: dict[str, list[Any]] = {}
    missing: dict[str, str] = {}
    for name in order:
        if name not in body:
            missing[name] = "not in the ensemble's answer"
            continue
        found, reason = _predictions(body[name])
        if found is None:
            missing[name] = reason
        else:
            rows[name] = found
    return Answers(rows, missing)


def _predictions(answer: Any) -> tuple[list[Any] | None, str]:
    if not isinstance(answer, dict):
        return None, f"its answer is {type(answer).__name__}, not an object"
    if isinstance(answer.get("predictions"), list):
        return answer["predictions"], ""
    outputs = answer.get("outputs")
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
        first = outputs[0]
        data, shape = first.get("data"), first.get("shape")
        if isinstance(data, list) and isinstance(shape, list) and shape and all(isinstance(n, int) for n in shape):
            if math.prod(shape) != len(data):
                return None, f"its v2 output has {len(data)} values for the shape {shape}"
            return np.asarray(data, dtype=object).reshape(shape).tolist(), ""
    error = answer.get("error")
    if error is not None:
        cause = answer.get("cause")
        return None, f"{error}: {cause}" if cause else str(error)
    return None, "its answer has neither predictions (v1) nor outputs (v2)"


def combine(answers: Answers, method: str, weights: Mapping[str, float], min_answers: int = 1) -> dict[str, Any]:
    present = answers.rows
    if len(present) < min_answers:
        reasons = "; ".join(f"{name}: {why}" for name, why in answers.missing.items())
        raise TooFewAnswers(
            f"{len(present)} of the ensemble's steps answered, {min_answers} are needed"
            + (f" ({reasons})" if reasons else "")
        )
    counts = {name: len(rows) for name, rows in present.items()}
    if len(set(counts.values())) > 1:
        raise Unaggregatable(f"the steps answered different numbers of rows: {counts}")
    if method == "all":
        size = next(iter(counts.values()))
        predictions: list[Any] = [{name: rows[index] for name, rows in present.items()} for index in range(size)]
    elif method == "vote":
        predictions = _vote(present, weights)
    elif method in ("mean", "weighted-mean"):
        predictions = _mean(present, weights if method == "weighted-mean" else {})
    else:
        raise ValueError(f"unknown method {method}")
    result: dict[str, Any] = {"predictions": predictions}
    if answers.missing:
        result["missing"] = answers.missing
    return result


def _vote(present: Mapping[str, list[Any]], weights: Mapping[str, float]) -> list[Any]:
    for name, rows in present.items():
        odd = [row for row in rows if not isinstance(row, (str, int, float, bool))]
        if odd:
            raise Unaggregatable(
                f"vote needs one label per row; step {name} answered {type(odd[0]).__name__} rows (use mean)"
            )
    winners = []
    for labels in zip(*present.values(), strict=True):
        tally: dict[Any, float] = {}
        for name, label in zip(present, labels, strict=True):
            # The first step to name a label puts it first in the tally: a tie goes to it.
            tally[label] = tally.get(label, 0.0) + weights.get(name, 1.0)
        winners.append(max(tally, key=tally.__getitem__))
    return winners


def _mean(present: Mapping[str, list[Any]], weights: Mapping[str, float]) -> list[Any]:
    arrays = []
    for name, rows in present.items():
        try:
            array = np.asarray(rows, dtype=np.float64)
        except (TypeError, ValueError):
            raise Unaggregatable(f"mean needs numbers; step {name} answered {rows[:1]!r}...") from None
        arrays.append(array)
    shapes = {name: array.shape for name, array in zip(present, arrays, strict=True)}
    if len(set(shapes.values())) > 1:
        raise Unaggregatable(f"the steps answered different shapes: {shapes}")
    stacked = np.stack(arrays)
    if weights:
        unweighted = [name for name in present if name not in weights]
        if unweighted:
            raise Unaggregatable(f"weighted-mean has no weight for step {unweighted[0]} (--weights)")
        given = [weights[name] for name in present]
        if sum(given) <= 0:
            raise Unaggregatable(f"the weights of the steps that answered ({', '.join(present)}) sum to 0")
        average = np.average(stacked, axis=0, weights=given)
    else:
        average = stacked.mean(axis=0)
    result: list[Any] = average.tolist()
    return result
