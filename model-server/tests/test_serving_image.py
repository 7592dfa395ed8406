"""The serving image's Python environment, built the way the Dockerfile builds it, serves MLflow
and XGBoost models with the server's own dependencies only: no training or dev packages inside."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path

import httpx
import mlflow
import pytest
import xgboost
from mlflow.models import infer_signature

from tests.support.model_server import Iris
from tests.support.processes import ManagedProcess, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("image") / "venv"
    subprocess.run(
        [
            "scripts/install-locked.sh",
            "mlpatterns-server",
            "model-server",
            str(venv),
            getattr(sys, "_base_executable", sys.executable),
        ],
        cwd=ROOT,
        check=True,
        env={**os.environ, "UV": str(ROOT / ".tools/bin/uv")},
    )
    return venv


def _installed(venv: Path) -> set[str]:
    site = next((venv / "lib").glob("python*/site-packages"))
    return {dist.metadata["Name"].lower() for dist in distributions(path=[str(site)])}


def test_only_serving_dependencies_are_installed(runtime_venv: Path) -> None:
    installed = _installed(runtime_venv)
    assert {"mlpatterns-server", "kserve", "mlflow-skinny", "xgboost-cpu"} <= installed
    assert not installed & {"mlflow", "kfp", "pytest", "moto", "skl2onnx", "torch", "nvidia-nccl-cu12"}


def _serve(venv: Path, model_dir: Path, tmp_path: Path) -> tuple[ManagedProcess, str]:
    port = free_port()
    command = [
        str(venv / "bin/python"),
        "-m",
        "mlpatterns_server",
        "--model_name",
        "iris",
        "--model_dir",
        str(model_dir),
        "--http_port",
        str(port),
        "--host",
        "127.0.0.1",
    ]
    process = ManagedProcess(command, tmp_path / "server.log")
    url = f"http://127.0.0.1:{port}"
    process.wait_http(f"{url}/v2/health/ready", timeout=90)
    return process, url


def test_serves_an_mlflow_model_with_mlflow_skinny(runtime_venv: Path, iris: Iris, tmp_path: Path) -> None:
    path = tmp_path / "model"
    mlflow.sklearn.save_model(iris.estimator, path, signature=infer_signature(iris.features, iris.labels))
    process, url = _serve(runtime_venv, path, tmp_path)
    try:
        answer = httpx.post(f"{url}/v1/models/iris:predict", json={"instances": iris.features[:5].tolist()})
        assert answer.json() == {"predictions": iris.estimator.predict(iris.features[:5]).tolist()}
    finally:
        process.stop()


def test_serves_an_xgboost_model(runtime_venv: Path, iris: Iris, tmp_path: Path) -> None:
    classifier = xgboost.XGBClassifier(n_estimators=5).fit(iris.features, iris.labels)
    classifier.save_model(tmp_path / "model.ubj")
    process, url = _serve(runtime_venv, tmp_path, tmp_path)
    try:
        answer = httpx.post(f"{url}/v1/models/iris:predict", json={"instances": iris.features[:5].tolist()})
        assert answer.json() == {"predictions": classifier.predict(iris.features[:5]).tolist()}
    finally:
        process.stop()
