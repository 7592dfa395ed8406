"""Models registered in a real MLflow registry (tracking server on sqlite) are served from
models:/NAME@ALIAS and models:/NAME/VERSION, answer exactly as the in-memory model, and carry the
registry version on every metric."""

from __future__ import annotations

from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier

from tests.support.model_server import Iris, ServerFactory
from tests.support.services import MlflowServer, tracking

NAME = "iris-classifier"
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def registry(mlflow_server: MlflowServer, iris: Iris) -> tuple[MlflowServer, RandomForestClassifier]:
    """Version 1 (the logistic regression) is the champion; version 2 is a random forest."""
    frame = pd.DataFrame(iris.features, columns=COLUMNS)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(frame, iris.labels)
    with tracking(mlflow_server.tracking_uri):
        for estimator in (iris.estimator, forest):
            with mlflow.start_run():
                mlflow.sklearn.log_model(
                    estimator,
                    name="model",
                    registered_model_name=NAME,
                    signature=infer_signature(frame, iris.labels),
                    input_example=frame.head(2),
                    pip_requirements=["scikit-learn"],  # skip inferring the environment (slow, not under test)
                    skops_trusted_types=["sklearn.tree._tree.Tree"],
                )
        MlflowClient().set_registered_model_alias(NAME, "champion", "1")
    return mlflow_server, forest


def test_champion_by_alias_serves_the_trained_model(
    start_server: ServerFactory, registry: tuple[MlflowServer, RandomForestClassifier], iris: Iris
) -> None:
    server_info, _ = registry
    server = start_server(
        "--model_uri", f"models:/{NAME}@champion", env={"MLFLOW_TRACKING_URI": server_info.tracking_uri}
    )
    answer = httpx.post(server.predict_url, json={"instances": iris.features.tolist()})
    assert answer.json() == {"predictions": iris.estimator.predict(iris.features).tolist()}

    metadata = httpx.get(f"{server.url}/v2/models/iris").json()
    assert (metadata["platform"], metadata["versions"]) == ("mlflow", ["1"])
    assert [tensor["name"] for tensor in metadata["inputs"]] == COLUMNS
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'mlpatterns_requests_total{code="200",model="iris",role="primary",version="1"} 1.0' in metrics


def test_version_number_serves_that_version(
    start_server: ServerFactory, registry: tuple[MlflowServer, RandomForestClassifier], iris: Iris
) -> None:
    server_info, forest = registry
    server = start_server("--model_uri", f"models:/{NAME}/2", env={"MLFLOW_TRACKING_URI": server_info.tracking_uri})
    rows = iris.features[::10]
    tensors = [
        {"name": name, "shape": [len(rows)], "datatype": "FP64", "data": rows[:, i].tolist()}
        for i, name in enumerate(COLUMNS)
    ]
    answer = httpx.post(server.infer_url, json={"inputs": tensors}).json()
    assert answer["model_version"] == "2"
    np.testing.assert_array_equal(answer["outputs"][0]["data"], forest.predict(pd.DataFrame(rows, columns=COLUMNS)))


def test_latest_serves_the_newest_version_on_its_versioned_path(
    start_server: ServerFactory, registry: tuple[MlflowServer, RandomForestClassifier], iris: Iris
) -> None:
    server_info, forest = registry
    server = start_server(
        "--model_uri", f"models:/{NAME}/latest", env={"MLFLOW_TRACKING_URI": server_info.tracking_uri}
    )
    rows = iris.features[:3]
    tensors = [
        {"name": name, "shape": [len(rows)], "datatype": "FP64", "data": rows[:, i].tolist()}
        for i, name in enumerate(COLUMNS)
    ]
    answer = httpx.post(f"{server.url}/v2/models/iris/versions/2/infer", json={"inputs": tensors})
    assert answer.status_code == 200
    assert answer.json()["model_version"] == "2"
    np.testing.assert_array_equal(
        answer.json()["outputs"][0]["data"], forest.predict(pd.DataFrame(rows, columns=COLUMNS))
    )
    assert httpx.post(f"{server.url}/v2/models/iris/versions/1/infer", json={"inputs": tensors}).status_code == 404


def test_unknown_alias_fails_with_the_registry_answer(
    start_server: ServerFactory, registry: tuple[MlflowServer, RandomForestClassifier]
) -> None:
    server_info, _ = registry
    server = start_server(
        "--model_uri", f"models:/{NAME}@nonesuch", env={"MLFLOW_TRACKING_URI": server_info.tracking_uri}, wait=False
    )
    assert server.process.wait_exit(timeout=90) == 1
    logs = server.process.logs()
    assert (
        f"models:/{NAME}@nonesuch: model '{NAME}' has no alias 'nonesuch' in the registry at "
        f"{server_info.tracking_uri}; its aliases are champion (v1)"
    ) in logs
    assert "retrying" not in logs


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/roses@champion", f"no model named 'roses' in the MLflow registry at {{tracking}}; it holds {NAME}"),
        (
            f"models:/{NAME}/7",
            f"model '{NAME}' has no version 7 in the registry at {{tracking}}; its versions are 1, 2",
        ),
    ],
)
def test_a_missing_model_or_version_names_the_store_and_what_it_holds(
    start_server: ServerFactory, registry: tuple[MlflowServer, RandomForestClassifier], uri: str, message: str
) -> None:
    server_info, _ = registry
    server = start_server("--model_uri", uri, env={"MLFLOW_TRACKING_URI": server_info.tracking_uri}, wait=False)
    assert server.process.wait_exit(timeout=90) == 1
    assert message.format(tracking=server_info.tracking_uri) in server.process.logs()


def test_without_a_tracking_uri_the_local_store_is_read_and_never_created(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    # MLFLOW_TRACKING_URI unset (empty): the server reads the local store in MLPATTERNS_HOME.
    env = {"MLPATTERNS_HOME": str(home), "MLFLOW_TRACKING_URI": ""}
    server = start_server("--model_uri", "models:/iris@champion", env=env, wait=False, cwd=tmp_path)
    assert server.process.wait_exit(timeout=90) == 1
    assert f"models:/iris@champion: there is no MLflow store at {home / 'mlflow.db'}" in server.process.logs()
    assert "mlpatterns-pipelines run-local batch-training" in server.process.logs()
    assert not home.exists()
    assert list(tmp_path.rglob("mlflow.db")) == [], "no store is created as a side effect"


def test_malformed_registry_uri_is_refused(start_server: ServerFactory) -> None:
    server = start_server("--model_uri", "models:/just-a-name", wait=False)
    assert server.process.wait_exit(timeout=60) == 1
    assert "use models:/NAME@ALIAS or models:/NAME/VERSION" in server.process.logs()
