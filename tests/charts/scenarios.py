"""Every chart with its defaults and each of its ci/*-values.yaml scenarios, rendered once."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mlpatterns.charts.rendering import Manifest, render, user_values
from mlpatterns.charts.sync import pattern_charts

CHARTS = pattern_charts()


def scenario_files(chart: Path) -> list[Path | None]:
    return [None, *sorted((chart / "ci").glob("*-values.yaml"))]


PAIRS = [(chart, values) for chart in CHARTS for values in scenario_files(chart)]


def scenario_id(chart: Path, values: Path | None) -> str:
    return f"{chart.name}:{values.stem if values else 'defaults'}"


SCENARIOS = [pytest.param(chart, values, id=scenario_id(chart, values)) for chart, values in PAIRS]


def values_of(values_file: Path | None) -> dict[str, Any]:
    return user_values([values_file] if values_file else [])


@cache
def rendered(chart: Path, values_file: Path | None) -> list[Manifest]:
    return render(chart, values_of(values_file))


def objects(manifests: list[Manifest], kind: str) -> list[dict[str, Any]]:
    return [m.document for m in manifests if m.kind == kind]


def one(manifests: list[Manifest], kind: str) -> dict[str, Any]:
    (found,) = objects(manifests, kind)
    return found
