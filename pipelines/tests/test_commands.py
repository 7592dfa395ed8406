"""The command line: the one-process training job the CronJob runs, parameter checking, and the
cron rule of Kubeflow's recurring runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from tests.support.pipelines import run_command, versions


def test_train_runs_the_whole_loop_in_one_process(mlflow_server: Any, registry: MlflowClient, tmp_path: Path) -> None:
    params = {"tracking_uri": mlflow_server.tracking_uri, "model_name": "bc-job", "algorithm": "logistic_regression",
              "hyperparameters": {"C": 0.5, "max_iter": 2000}}  # fmt: skip
    done = run_command("train", cwd=tmp_path, params=params)
    assert done.returncode == 0, done.stderr[-3000:]
    decision = json.loads(done.stdout.strip().splitlines()[-1])
    assert decision["promoted"] is True
    assert decision["version"] == "1"
    assert versions(registry, "bc-job") == {"1": ["challenger", "champion"]}


def test_train_refuses_unknown_parameters_and_bad_hyperparameters(tmp_path: Path) -> None:
    unknown = run_command("train", cwd=tmp_path, params={"learning_rate": 0.1})
    assert unknown.returncode != 0
    assert "unknown parameters learning_rate" in unknown.stderr
    bad = run_command("train", cwd=tmp_path, params={"algorithm": "random_forest", "hyperparameters": {"depth": 3}})
    assert bad.returncode == 1
    assert "random_forest has no hyperparameter depth" in bad.stderr


def test_run_local_refuses_unknown_pipeline_parameters(tmp_path: Path) -> None:
    done = run_command("run-local", "batch-training", cwd=tmp_path, params={"train_gpus": 1})
    assert done.returncode != 0
    assert "batch-training has no such parameter" in done.stderr


def test_schedule_wants_kubeflows_six_field_cron(tmp_path: Path) -> None:
    done = run_command(
        "schedule", "batch-training", "--host", "http://127.0.0.1:9", "--cron", "0 2 * * *", cwd=tmp_path
    )
    assert done.returncode != 0
    assert "Kubeflow Pipelines wants 6 fields, seconds first" in done.stderr


def test_the_batch_training_cronjob_command_trains_and_registers(
    mlflow_server: Any, registry: MlflowClient, tmp_path: Path
) -> None:
    from mlpatterns.charts.rendering import render
    from mlpatterns.paths import charts_dir

    values = {"mlflow": {"trackingUri": mlflow_server.tracking_uri}, "training": {"modelName": "bc-cron"}}
    cronjob = next(m.document for m in render(charts_dir() / "batch-training", values) if m.kind == "CronJob")
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["mlpatterns-pipelines", "train"]
    done = run_command("train", *container["args"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert versions(registry, "bc-cron") == {"1": ["challenger", "champion"]}
