"""Fixtures for the model-server tests: the iris reference model and servers as real processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tests.support.model_server import Iris, Server, ServerFactory
from tests.support.services import start_redis


@pytest.fixture(scope="session")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Iris:
    features, labels = load_iris(return_X_y=True)
    estimator = LogisticRegression(max_iter=1000).fit(features, labels)
    model_dir = tmp_path_factory.mktemp("iris-joblib")
    joblib.dump(estimator, model_dir / "model.joblib")
    return Iris(features, labels, estimator, model_dir)


@pytest.fixture(scope="session")
def column_model(iris: Iris, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow model whose signature names its columns, as models trained on DataFrames have."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    frame = pd.DataFrame(iris.features, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
    path = tmp_path_factory.mktemp("column-model") / "model"
    mlflow.sklearn.save_model(iris.estimator, path, signature=infer_signature(frame, iris.estimator.predict(frame)))
    return path


@pytest.fixture
def own_redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of the test's own, stopped at its end: for tests that count what a stream or
    cache holds (the session's shared redis_url holds other tests' keys)."""
    process, url = start_redis(tmp_path)
    yield url
    process.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def iris_server(iris: Iris, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a module's read-only tests: the iris classifier from a joblib file."""
    factory = ServerFactory(tmp_path_factory.mktemp("iris-server"))
    yield factory("--model_dir", str(iris.joblib_dir), "--max_body_bytes", "65536")
    factory.close()
