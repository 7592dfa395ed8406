"""Real local runs of both pipelines (kfp.local, one subprocess per component) against a real MLflow
registry: the champion/challenger loop over three runs, bad data stopped at validation, and the
champion served by the model server exactly as the pipeline trained it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import joblib
import pytest
from mlflow import MlflowClient
from mlflow.models import get_model_info

from mlpatterns_pipelines.steps.sources import read_source
from mlpatterns_pipelines.steps.validation import bundled_expectation
from tests.support.pipelines import executed_tasks, run_command, versions
from tests.support.processes import ManagedProcess, free_port
from tests.support.services import tracking

FLOW = "bc-flow"
# Breast cancer (30 features, harder than iris) so the three runs score apart.
BREAST_CANCER = "sklearn://breast_cancer"
FIRST = {"source": BREAST_CANCER, "algorithm": "random_forest", "hyperparameters": {"n_estimators": 3, "max_depth": 2}}
WORSE = {"source": BREAST_CANCER, "algorithm": "random_forest", "hyperparameters": {"n_estimators": 1, "max_depth": 1}}
BETTER = {"source": BREAST_CANCER, "algorithm": "hist_gradient_boosting", "hyperparameters": {}}


def _run(pipeline: str, workdir: Path, tracking_uri: str, **params: Any) -> Any:
    return run_command("run-local", pipeline, "--tracking-uri", tracking_uri, cwd=workdir, params=params)


@pytest.fixture(scope="module")
def flow(mlflow_server: Any, registry: MlflowClient, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three batch-training runs of one model: a first one, a worse one, a better one."""
    workdir = tmp_path_factory.mktemp("flow")
    states, outputs = {}, {}
    for step, params in (("first", FIRST), ("worse", WORSE), ("better", BETTER)):
        done = _run("batch-training", workdir, mlflow_server.tracking_uri, model_name=FLOW, **params)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        states[step], outputs[step] = versions(registry, FLOW), done.stdout
    return {"states": states, "outputs": outputs, "workdir": workdir}


def test_a_run_prints_a_line_per_step_and_logs_the_rest(flow: dict[str, Any], mlflow_server: Any) -> None:
    output = flow["outputs"]["first"]
    steps = ["ingest", "validate", "split", "preprocess", "train", "evaluate", "register"]
    assert executed_tasks(output) == steps
    assert len(output.splitlines()) <= len(steps) + 5, output
    log = Path(re.search(r"^full log: (.+)$", output, re.MULTILINE)[1])  # type: ignore[index]
    assert log.is_relative_to(flow["workdir"] / ".mlpatterns" / "logs")
    assert "Executing task" in log.read_text(), "the executor output is in the log"
    assert f"'{FLOW}' version 1 registered; first model: no champion yet (champion: v1)" in output
    # The tracking server was given on the command line: the command to serve says so.
    assert (
        output.rstrip()
        .splitlines()[-1]
        .endswith(
            f"MLFLOW_TRACKING_URI={mlflow_server.tracking_uri} {Path(sys.executable).parent / 'mlpatterns-server'} "
            f"--model_name {FLOW} --model_uri models:/{FLOW}@champion"
        )
    )


def _run_of(registry: MlflowClient, version: str, name: str = FLOW) -> Any:
    run_id = registry.get_model_version(name, version).run_id
    assert run_id is not None
    return registry.get_run(run_id)


def test_the_first_run_is_registered_with_metrics_and_signature_and_becomes_champion(
    flow: dict[str, Any], registry: MlflowClient, mlflow_server: Any
) -> None:
    assert flow["states"]["first"] == {"1": ["challenger", "champion"]}
    run = _run_of(registry, "1")
    assert run.data.metrics["test_roc_auc"] > 0.9
    assert {"test_accuracy", "test_f1", "test_precision", "test_recall"} <= run.data.metrics.keys()
    assert run.data.tags["mlpatterns.reason"] == "first model: no champion yet"
    assert run.data.params["algorithm"] == "random_forest"
    with tracking(mlflow_server.tracking_uri):
        info = get_model_info(f"models:/{FLOW}/1")
    assert len(info.signature.inputs.input_names()) == 30
    assert info.saved_input_example_info is not None


def test_a_worse_run_stays_challenger(flow: dict[str, Any], registry: MlflowClient) -> None:
    assert flow["states"]["worse"] == {"1": ["champion"], "2": ["challenger"]}
    run = _run_of(registry, "2")
    assert run.data.tags["mlpatterns.decision"] == "kept-champion"
    assert run.data.tags["mlpatterns.reason"].endswith("the challenger does not beat the champion, which stays")
    assert "vs champion v1" in run.data.tags["mlpatterns.reason"]
    assert run.data.metrics["decision_challenger_score"] < run.data.metrics["decision_champion_score"]


def test_a_better_run_takes_the_champion_alias(flow: dict[str, Any], registry: MlflowClient) -> None:
    assert flow["states"]["better"] == {"1": [], "2": [], "3": ["challenger", "champion"]}
    run = _run_of(registry, "3")
    assert run.data.tags["mlpatterns.decision"] == "promoted"
    assert run.data.tags["mlpatterns.reason"].endswith("so the challenger is promoted")
    assert run.data.metrics["decision_challenger_score"] >= run.data.metrics["decision_champion_score"]


def test_the_champion_serves_what_the_pipeline_trained(
    flow: dict[str, Any], mlflow_server: Any, tmp_path: Path
) -> None:
    trained_artifacts = sorted(flow["workdir"].glob(".mlpatterns/pipeline-root/batch-training-*/train/model"))
    trained = joblib.load(trained_artifacts[-1])  # the last run's model: the champion
    frame = read_source("sklearn://breast_cancer").drop(columns=["target"]).iloc[::20]
    port = free_port()
    server = ManagedProcess(
        [sys.executable, "-m", "mlpatterns_server", "--model_name", "bc", "--model_uri", f"models:/{FLOW}@champion",
         "--http_port", str(port), "--host", "127.0.0.1", "--download_dir", str(tmp_path)],
        tmp_path / "server.log", env={"MLFLOW_TRACKING_URI": mlflow_server.tracking_uri},
    )  # fmt: skip
    try:
        server.wait_http(f"http://127.0.0.1:{port}/v2/health/ready", timeout=120)
        rows = [dict(zip(frame.columns, row, strict=True)) for row in frame.to_numpy().tolist()]
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/models/bc:predict", json={"instances": rows}, timeout=30)
        assert answer.json() == {"predictions": trained.predict(frame).tolist()}
        assert httpx.get(f"http://127.0.0.1:{port}/v2/models/bc").json()["versions"] == ["3"]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def breast_cancer_csvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad-data")
    frame = read_source("sklearn://breast_cancer")
    spoilt = {
        "missing-column": frame.drop(columns=["worst area"]),
        "too-many-nans": frame.assign(**{"mean texture": frame["mean texture"].mask(frame.index % 4 == 0)}),
        "single-class": frame.assign(target=0),
    }
    paths = {}
    for name, table in spoilt.items():
        paths[name] = folder / f"{name}.csv"
        table.to_csv(paths[name], index=False)
    return paths


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing-column",
         "column 'worst area': required by the expectation, missing from the data (rule: required-column)"),
        ("too-many-nans",
         "column 'mean texture': 25.1% missing, more than the 1.0% allowed (rule: max-missing-fraction)"),
        ("single-class", "column 'target': a single class (0): nothing to learn to tell apart (rule: label-classes)"),
    ],
)  # fmt: skip
def test_bad_data_fails_validation_and_registers_nothing(
    case: str, message: str, breast_cancer_csvs: dict[str, Path], mlflow_server: Any, registry: MlflowClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    name = f"bc-bad-{case}"
    done = _run(
        "batch-training", tmp_path, mlflow_server.tracking_uri, model_name=name,
        source=str(breast_cancer_csvs[case]), expectation=json.dumps(bundled_expectation("breast_cancer")),
    )  # fmt: skip
    assert done.returncode == 1
    # The reason is the last thing printed, under the step that failed.
    assert done.stderr.startswith("mlpatterns-pipelines: batch-training failed at step validate: ValidationFailed: ")
    assert done.stderr.rstrip().endswith(message)
    assert executed_tasks(done.stdout) == ["ingest", "validate"], "nothing runs after a failed validation"
    assert versions(registry, name) == {}


def test_pipeline_training_runs_end_to_end(mlflow_server: Any, registry: MlflowClient, tmp_path: Path) -> None:
    done = _run(
        "pipeline-training", tmp_path, mlflow_server.tracking_uri, model_name="bc-steps",
        algorithm="xgboost", hyperparameters={"n_estimators": 20, "max_depth": 3}, train_cpu="1",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert versions(registry, "bc-steps") == {"1": ["challenger", "champion"]}
    run = _run_of(registry, "1", "bc-steps")
    assert run.data.params["algorithm"] == "xgboost"
    assert run.data.metrics["test_roc_auc"] > 0.95
