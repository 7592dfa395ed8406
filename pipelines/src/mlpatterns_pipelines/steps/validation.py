"""Check a table against an expectation before anything is trained on it: the columns and their
types, missing values, value ranges, and the label's classes and balance. A failure names the
column and the rule, and stops the run: nothing downstream runs, nothing is registered.

An expectation is a plain mapping (a pipeline parameter), e.g.
    {"label": "target", "min_rows": 100, "max_missing_fraction": 0.01,
     "min_class_fraction": 0.05, "columns": {"mean radius": {"min": 0, "max": 60}, ...}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import pandas as pd


class ValidationFailed(ValueError):
    """The data does not meet the expectation; the message lists every broken rule."""


@dataclass(frozen=True)
class Finding:
    column: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"column '{self.column}': {self.detail} (rule: {self.rule})"


def bundled_expectation(name: str) -> dict[str, Any]:
    """The expectation shipped for a scikit-learn bundled dataset."""
    shipped = files("mlpatterns_pipelines.expectations").joinpath(f"{name}.json")
    if not shipped.is_file():
        raise ValueError(f"no expectation is shipped for sklearn://{name}: pass one (the expectation parameter)")
    text = shipped.read_text()
    expectation: dict[str, Any] = json.loads(text)
    return expectation


def check(frame: pd.DataFrame, expectation: dict[str, Any]) -> list[Finding]:
    label = str(expectation.get("label", "target"))
    columns: dict[str, dict[str, Any]] = expectation.get("columns", {})
    max_missing = float(expectation.get("max_missing_fraction", 0.0))
    findings: list[Finding] = []
    for column in [*columns, label]:
        if column not in frame.columns:
            findings.append(Finding(column, "required-column", "required by the expectation, missing from the data"))
    min_rows = int(expectation.get("min_rows", 1))
    if len(frame) < min_rows:
        findings.append(Finding("*", "min-rows", f"{len(frame)} rows, fewer than the {min_rows} required"))
    for column, rules in columns.items():
        if column in frame.columns:
            findings.extend(_column_findings(column, frame[column], rules, max_missing))
    if label in frame.columns:
        findings.extend(_label_findings(label, frame[label], expectation, max_missing))
    return findings


def _column_findings(column: str, values: pd.Series, rules: dict[str, Any], max_missing: float) -> list[Finding]:
    found = []
    missing = float(values.isna().mean())
    if missing > float(rules.get("max_missing_fraction", max_missing)):
        allowed = float(rules.get("max_missing_fraction", max_missing))
        found.append(
            Finding(column, "max-missing-fraction", f"{missing:.1%} missing, more than the {allowed:.1%} allowed")
        )
    if not pd.api.types.is_numeric_dtype(values):
        found.append(Finding(column, "numeric", f"holds {values.dtype} values, not numbers"))
        return found
    present = values.dropna()
    low, high = rules.get("min"), rules.get("max")
    outside = present[
        ((present < low) if low is not None else False) | ((present > high) if high is not None else False)
    ]
    if len(outside):
        found.append(
            Finding(column, "range", f"{len(outside)} values outside [{low}, {high}], e.g. {outside.iloc[0].item()!r}")
        )
    return found


def _label_findings(label: str, values: pd.Series, expectation: dict[str, Any], max_missing: float) -> list[Finding]:
    found = []
    if values.isna().any():
        found.append(Finding(label, "label-missing", f"{int(values.isna().sum())} rows have no label"))
    counts = values.dropna().value_counts()
    if len(counts) < 2:
        only = ", ".join(str(c) for c in counts.index) or "none"
        found.append(Finding(label, "label-classes", f"a single class ({only}): nothing to learn to tell apart"))
        return found
    expected = expectation.get("classes")
    if expected is not None:
        unknown = sorted(set(counts.index) - set(expected), key=str)
        if unknown:
            found.append(Finding(label, "label-classes", f"classes {unknown} are not among {expected}"))
    minimum = float(expectation.get("min_class_fraction", 0.0))
    for cls, count in counts.items():
        share = count / counts.sum()
        if share < minimum:
            found.append(
                Finding(
                    label, "min-class-fraction", f"class {cls} is {share:.1%} of rows, below the {minimum:.1%} minimum"
                )
            )
    return found


def validate(frame: pd.DataFrame, expectation: dict[str, Any]) -> dict[str, Any]:
    """A report of what was checked; raises ValidationFailed listing every broken rule."""
    findings = check(frame, expectation)
    if findings:
        raise ValidationFailed("data does not meet the expectation:\n" + "\n".join(f"- {f}" for f in findings))
    return {"rows": len(frame), "columns": len(frame.columns), "checked_columns": len(expectation.get("columns", {}))}
