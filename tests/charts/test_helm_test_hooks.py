"""The charts' `helm test` scripts, run for real: each script as the chart renders it, with its
environment, against the processes its pattern runs (here on loopback instead of in a cluster).
The prediction log's follows its prediction's event through the collector into a Parquet file."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tests.support.helm_tests import helm_test
from tests.support.model_server import Server, ServerFactory
from tests.support.processes import ManagedProcess, free_port
from tests.support.services import start_redis


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    features, labels = load_iris(return_X_y=True)
    folder = tmp_path_factory.mktemp("iris")
    joblib.dump(LogisticRegression(max_iter=1000).fit(features, labels), folder / "model.joblib")
    return folder


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path)
    yield factory
    factory.close()


@pytest.fixture
def redis_of_this_test(tmp_path: Path) -> Iterator[str]:
    process, url = start_redis(tmp_path)
    yield url
    process.stop()


def collector(workdir: Path, redis_url: str, *extra: str) -> tuple[ManagedProcess, str]:
    port = free_port()
    command = [sys.executable, "-m", "mlpatterns_server", "collector", "--redis_url", redis_url,
               "--output", str(workdir / "landed"), "--http_port", str(port), "--host", "127.0.0.1",
               "--max_file_age_seconds", "3600", *extra]  # fmt: skip
    process = ManagedProcess(command, workdir / "collector.log")
    url = f"http://127.0.0.1:{port}"
    process.wait_http(f"{url}/v2/health/ready")
    return process, url


def logging_server(servers: ServerFactory, model_dir: Path, collector_url: str) -> Server:
    # Locally our server's events stand in for KServe's logger: the script's x-request-id and
    # ce-id are one id, which names the event either way.
    return servers("--model_dir", str(model_dir), "--prediction_log_sink", "http",
                   "--prediction_log_http_url", collector_url)  # fmt: skip


def test_the_synchronous_helm_test_predicts(servers: ServerFactory, model_dir: Path) -> None:
    server = servers("--model_dir", str(model_dir))
    passed = helm_test("synchronous", URL=server.predict_url)
    assert passed.returncode == 0, passed.stderr
    assert "prediction ok" in passed.stdout


@pytest.mark.parametrize(("backend", "path"), [("seldon-core-v1", "/api/v1.0/predictions"),
                                               ("seldon-core-v2", "/v2/models/iris/infer")])  # fmt: skip
def test_the_graph_helm_test_speaks_seldons_protocols(
    servers: ServerFactory, model_dir: Path, backend: str, path: str
) -> None:
    # The kit's server answers both: SeldonMessage as Seldon Core 1's executor does, v2 as Seldon Core 2.
    server = servers("--model_dir", str(model_dir))
    chain = [{"model": "screen"}, {"model": "classify", "data": "$response", "mapPredictionsToInstances": True}]
    passed = helm_test("microservice-vertical", {"backend": backend, "sequence": chain}, URL=f"{server.url}{path}")
    assert passed.returncode == 0, passed.stderr
    assert "prediction ok" in passed.stdout


def test_the_prediction_log_helm_test_follows_its_event_into_parquet(
    servers: ServerFactory, model_dir: Path, tmp_path: Path, redis_of_this_test: str
) -> None:
    process, url = collector(tmp_path, redis_of_this_test)
    try:
        server = logging_server(servers, model_dir, url)
        passed = helm_test("prediction-log", URL=server.predict_url, COLLECTOR=url)
        assert passed.returncode == 0, passed.stdout + passed.stderr
        assert "event in the stream" in passed.stdout
        landed_line = next(line for line in passed.stdout.splitlines() if line.startswith("event landed: "))
        assert Path(landed_line.removeprefix("event landed: ")).is_file()
    finally:
        process.stop()


def test_the_prediction_log_helm_test_fails_when_nothing_lands(
    servers: ServerFactory, model_dir: Path, tmp_path: Path, redis_of_this_test: str
) -> None:
    process, url = collector(tmp_path, redis_of_this_test, "--land", "false")
    try:
        server = logging_server(servers, model_dir, url)
        failed = helm_test("prediction-log", URL=server.predict_url, COLLECTOR=url)
        assert failed.returncode != 0
        assert "event in the stream" in failed.stdout
        assert "409" in failed.stderr
    finally:
        process.stop()
