"""Metrics are right with several workers: every scrape, whichever worker answers, counts every
request; and the exposition passes promtool's checks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.model_server import Iris, Server, ServerFactory
from tests.support.processes import free_port

ROW = [5.1, 3.5, 1.4, 0.2]


def _sample(metrics: str, prefix: str) -> float:
    lines = [line for line in metrics.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, f"{prefix!r} in:\n{metrics}"
    return float(lines[0].rsplit(" ", 1)[1])


def _promtool_check(metrics: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: run make setup")
    checked = subprocess.run([promtool, "check", "metrics"], input=metrics, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("own_dir", [True, False], ids=["PROMETHEUS_MULTIPROC_DIR-set", "as-the-readme-runs-it"])
def test_two_workers_count_every_request(
    start_server: ServerFactory, iris: Iris, tmp_path: Path, own_dir: bool
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # Unset (empty), the server makes a directory of its own, as the README's command runs it.
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir) if own_dir else ""}
    server = start_server("--model_dir", str(iris.joblib_dir), "--workers", "2", env=env)
    for _ in range(40):  # a new connection each time, so the kernel spreads them over the workers
        assert httpx.post(server.predict_url, json={"instances": [ROW]}).status_code == 200
    for _ in range(3):
        assert httpx.post(server.predict_url, json={"instances": []}).status_code == 400

    if own_dir:
        writers = {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
        assert len(writers) == 2, "both workers should have served requests"
    for _ in range(6):
        metrics = httpx.get(f"{server.url}/metrics").text
        assert _sample(metrics, 'mlpatterns_requests_total{code="200"') == 40
        assert _sample(metrics, 'mlpatterns_requests_total{code="400"') == 3
        assert _sample(metrics, "mlpatterns_request_duration_seconds_count") == 43
    assert _sample(metrics, "mlpatterns_model_load_seconds") > 0
    _promtool_check(metrics)


def test_single_worker_exposition_is_valid(iris_server: Server) -> None:
    httpx.post(iris_server.predict_url, json={"instances": [ROW]})
    metrics = httpx.get(f"{iris_server.url}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    labels = 'model="iris",role="primary",version="'
    assert f'mlpatterns_requests_total{{code="200",{labels}' in metrics.text
    assert "mlpatterns_request_duration_seconds_bucket" in metrics.text
    _promtool_check(metrics.text)


def test_role_and_version_label_everything(start_server: ServerFactory, iris: Iris) -> None:
    server = start_server("--model_dir", str(iris.joblib_dir), "--model_version", "v7", "--role", "canary")
    answer = httpx.post(server.predict_url, json={"instances": [ROW]})
    # Behind a router that splits traffic, the answer says which model gave it (errors too).
    assert (answer.headers["x-mlpatterns-role"], answer.headers["x-mlpatterns-model-version"]) == ("canary", "v7")
    refused = httpx.post(server.infer_url, json={"inputs": []})
    assert (refused.status_code, refused.headers["x-mlpatterns-role"]) == (400, "canary")
    metrics = httpx.get(f"{server.url}/metrics").text
    assert _sample(metrics, 'mlpatterns_requests_total{code="200",model="iris",role="canary",version="v7"}') == 1
    assert httpx.get(f"{server.url}/v2/models/iris").json()["versions"] == ["v7"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_metrics_on_a_port_of_their_own(start_server: ServerFactory, iris: Iris, workers: str) -> None:
    """--metrics_port: /metrics leaves the prediction port (it need not be reachable from where
    predictions come); with workers, the port serves their sum."""
    port = free_port()
    server = start_server("--model_dir", str(iris.joblib_dir), "--workers", workers, "--metrics_port", str(port))
    for _ in range(10):
        assert httpx.post(server.predict_url, json={"instances": [ROW]}).status_code == 200
    moved = httpx.get(f"{server.url}/metrics")
    assert moved.status_code == 404
    assert "/metrics" not in moved.json()["error"].removeprefix("no endpoint at GET /metrics")  # no hint to it
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert _sample(metrics, 'mlpatterns_requests_total{code="200"') == 10
    _promtool_check(metrics)
