"""The model server and the pipelines agree on where the kit's local MLflow store is, so a model
that `mlpatterns-pipelines run-local` registers is what `--model_uri models:/NAME@champion` serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpatterns_pipelines import local_store
from mlpatterns_server.loading import registry
from mlpatterns_server.settings import ServerSettings


def _server_store() -> str:
    return registry.tracking_uri(ServerSettings.model_validate({"model_dir": "unused"}))


def test_both_read_mlpatterns_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLPATTERNS_HOME", str(tmp_path))
    assert _server_store() == local_store.tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_both_default_to_the_same_folder_in_the_home_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLPATTERNS_HOME", raising=False)
    assert _server_store() == local_store.tracking_uri() == f"sqlite:///{Path.home() / '.mlpatterns' / 'mlflow.db'}"


def test_both_prefer_mlflow_tracking_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLPATTERNS_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert _server_store() == local_store.tracking_uri() == "http://mlflow.example:5000"
