"""A chart's `helm test` script run here: the test pod's Python as the chart renders it, with its
environment, and the in-cluster addresses in it replaced by local ones."""

from __future__ import annotations

import subprocess
import sys

from mlpatterns.charts.rendering import render
from mlpatterns.paths import charts_dir


def helm_test(name: str, values: dict[str, object] | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the chart's test pod's script here, with its environment and these values in it."""
    (pod,) = [m.document for m in render(charts_dir() / name, values or {}) if m.is_test_hook and m.kind == "Pod"]
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["python", "-c"]
    given = {entry["name"]: entry["value"] for entry in container["env"]}
    assert env.keys() <= given.keys(), f"{name}'s test pod has no {env.keys() - given.keys()}"
    return subprocess.run(
        [sys.executable, "-c", container["args"][0]], env={**given, **env}, capture_output=True, text=True, timeout=240
    )
