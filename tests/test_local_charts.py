"""Every chart of the catalogue runs under `mlpatterns up` with a local model and answers what its
pattern promises (the QA charts have tests of their own, test_local_runtime.py): a prediction
through the gateway, a job's result, an event followed to the collector, a batch's output, a
training run registered. Prometheus is left out here to keep each start short."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import joblib
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from tests.support.local_up import Up, alive
from tests.support.processes import free_port

ROW = [5.1, 3.5, 1.4, 0.2]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("local-models")
    features, labels = load_iris(return_X_y=True)
    scaler = StandardScaler().fit(features)
    for name, estimator in (("iris", LogisticRegression(max_iter=1000).fit(features, labels)),
                            ("scaled", LogisticRegression(max_iter=1000).fit(scaler.transform(features), labels)),
                            ("scaler", scaler)):  # fmt: skip
        (folder / name).mkdir()
        joblib.dump(estimator, folder / name / "model.joblib")
    table = pd.DataFrame(features[:40], columns=["a", "b", "c", "d"]).assign(id=range(40))
    table.to_parquet(folder / "input.parquet")
    return {"iris": folder / "iris", "scaled": folder / "scaled", "scaler": folder / "scaler",
            "input": folder / "input.parquet", "folder": folder}  # fmt: skip


def predicts(up: Up) -> None:
    answer = httpx.post(f"{up.gateway}/v1/models/iris:predict", json={"instances": [ROW]}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": [0]}


def stops_clean(up: Up) -> None:
    up.interrupt()
    assert up.leftovers() == []


SERVING: dict[str, Callable[[dict[str, Path]], list[str]]] = {
    "web-single": lambda m: [f"model.uri={m['iris']}"],
    "synchronous": lambda m: [f"model.uri={m['iris']}"],
    "model-load": lambda m: [f"model.uri={m['iris']}"],
    "prediction-cache": lambda m: [f"model.uri={m['iris']}"],
    "preprocess-prediction": lambda m: [f"transformer.uri={m['scaler']}", f"model.uri={m['scaled']}"],
}


@pytest.mark.parametrize("chart", sorted(SERVING))
def test_a_serving_chart_predicts_through_the_gateway(chart: str, models: dict[str, Path], tmp_path: Path) -> None:
    up = Up(tmp_path / "home", chart, *SERVING[chart](models), extra=("--no-prometheus",))
    try:
        predicts(up)
    finally:
        stops_clean(up)


def test_the_model_baked_into_an_image_is_given_by_its_folder(models: dict[str, Path], tmp_path: Path) -> None:
    env = {**os.environ, "MLPATTERNS_HOME": str(tmp_path / "refused")}
    refused = subprocess.run([sys.executable, "-m", "mlpatterns", "up", "model-in-image"], capture_output=True,
                             text=True, timeout=120, env=env)  # fmt: skip
    assert refused.returncode == 2
    assert "--baked-model PATH" in refused.stdout
    up = Up(tmp_path / "home", "model-in-image", extra=("--no-prometheus", "--baked-model", str(models["iris"])))
    try:
        predicts(up)
    finally:
        stops_clean(up)


def test_asynchronous_jobs_are_done_by_the_worker(models: dict[str, Path], tmp_path: Path) -> None:
    up = Up(tmp_path / "home", "asynchronous", f"model.uri={models['iris']}", extra=("--no-prometheus",))
    try:
        job = httpx.post(f"{up.gateway}/v1/jobs", json={"instances": [ROW]}, timeout=30).json()["id"]
        deadline = time.monotonic() + 60
        while (state := httpx.get(f"{up.gateway}/v1/jobs/{job}", timeout=30).json())["status"] == "pending":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert state == {"id": job, "status": "done", "error": None, "result": {"predictions": [0]}}
    finally:
        stops_clean(up)


def test_prediction_log_events_reach_the_collector(models: dict[str, Path], tmp_path: Path) -> None:
    landed = tmp_path / "landed"
    up = Up(tmp_path / "home", "prediction-log", f"model.uri={models['iris']}", f"collector.output={landed}",
            extra=("--no-prometheus",))  # fmt: skip
    try:
        answer = httpx.post(f"{up.gateway}/v1/models/iris:predict", json={"instances": [ROW]},
                            headers={"x-request-id": "followed"}, timeout=30)  # fmt: skip
        assert answer.status_code == 200
        collector = up.named("collector")["url"]
        deadline = time.monotonic() + 60
        while httpx.get(f"{collector}/v1/events/followed", timeout=10).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert httpx.post(f"{collector}/v1/flush", timeout=60).json() == {"landed": 1}
    finally:
        stops_clean(up)
    assert list(landed.rglob("*.parquet"))


def run_jobs(home: Path, chart: str, *sets: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mlpatterns", "up", chart, "--no-prometheus",
               *(part for value in sets for part in ("--set", value))]  # fmt: skip
    env = {**os.environ, "MLPATTERNS_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def test_a_batch_runs_once_and_writes_its_predictions(models: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "predictions"
    done = run_jobs(tmp_path / "home", "batch", f"model.uri={models['iris']}", f"input.uri={models['input']}",
                    f"output.uri={output}")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "job demo-batch-local: done" in done.stdout
    written = pd.read_parquet(next(output.rglob("*.parquet")))
    assert len(written) == 40


def test_batch_training_registers_a_model_in_the_local_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run_jobs(home, "batch-training")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "job demo-batch-training-local: done" in done.stdout
    assert "the local MLflow store" in done.stdout
    registry = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    assert [str(version.version) for version in registry.search_model_versions("name='iris'")] == ["1"]


def test_up_detached_says_what_became_ready_and_renders_with_release_and_namespace(
    models: dict[str, Path], tmp_path: Path
) -> None:
    """`up RELEASE CHART -n NS -d`: one line per process as it is ready, back at the prompt once all
    are, the release and namespace in what runs; `down` ends it all."""
    env = {**os.environ, "MLPATTERNS_HOME": str(tmp_path / "home")}
    port = free_port()
    command = [sys.executable, "-m", "mlpatterns", "up", "team-a", "web-single", "-n", "models", "--port", str(port),
               "--set", f"model.uri={models['iris']}", "--scrape-interval", "1", "--detach"]  # fmt: skip
    started = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    lines = started.stdout.splitlines()
    assert lines[0].startswith("mlpatterns up web-single: starting ")
    count = int(lines[0].split("starting ")[1].split()[0])
    ready = [line.split()[1] for line in lines if line.strip().startswith("ready ")]
    assert len(ready) == count
    assert "team-a-web-single" in ready
    assert "gateway" in ready
    assert "in the background" in lines[-1]
    state = json.loads((tmp_path / "home" / "up" / f"{port}.json").read_text())
    answer = httpx.post(f"http://127.0.0.1:{port}/v1/models/iris:predict", json={"instances": [ROW]}, timeout=30)
    assert answer.status_code == 200, answer.text
    if state["prometheus"]:
        targets = httpx.get(f"{state['prometheus']}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        assert {target["labels"]["namespace"] for target in targets} == {"models"}
    stopped = subprocess.run([sys.executable, "-m", "mlpatterns", "down", "--port", str(port)], capture_output=True,
                             text=True, timeout=120, env=env)  # fmt: skip
    assert f"stopped web-single on port {port}" in stopped.stdout
    pids = [state["pid"], *(process["pid"] for process in state["processes"])]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.2)
    assert not [pid for pid in pids if alive(pid)]
