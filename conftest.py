"""Fixtures every test directory shares: real services on loopback, started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mlflow import MlflowClient

from tests.support.services import MlflowServer, S3Server, start_mlflow, start_redis, start_s3


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    process.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = start_s3(tmp_path_factory.mktemp("s3"))
    yield server
    server.process.stop()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    yield server
    server.process.stop()


@pytest.fixture(scope="session")
def registry(mlflow_server: MlflowServer) -> MlflowClient:
    """A client of the session's MLflow registry."""
    return MlflowClient(tracking_uri=mlflow_server.tracking_uri)
