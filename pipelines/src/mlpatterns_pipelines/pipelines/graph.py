"""The training graph both pipelines share: ingest, validate, split, preprocess, train, evaluate,
register. Each pipeline then sets what it needs on the tasks (caching, resources, secrets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kfp import kubernetes
from kfp.dsl import PipelineTask

from mlpatterns_pipelines.components.evaluate import evaluate
from mlpatterns_pipelines.components.ingest import ingest
from mlpatterns_pipelines.components.preprocess import preprocess
from mlpatterns_pipelines.components.register import register
from mlpatterns_pipelines.components.split import split
from mlpatterns_pipelines.components.train import train
from mlpatterns_pipelines.components.validate import validate
from mlpatterns_pipelines.steps.batch import TrainingRun

# The pipelines' defaults are the one-process job's (steps.batch.TrainingRun), except where the
# registry is: on a cluster, the usual in-cluster MLflow service.
DEFAULTS = TrainingRun()
CLUSTER_TRACKING_URI = "http://mlflow.mlflow.svc:5000"
MLFLOW_SECRET = "mlflow-credentials"
STORAGE_SECRET = "storage-credentials"


@dataclass
class TrainingTasks:
    ingest: PipelineTask
    validate: PipelineTask
    split: PipelineTask
    preprocess: PipelineTask
    train: PipelineTask
    evaluate: PipelineTask
    register: PipelineTask

    def all(self) -> list[PipelineTask]:
        return [self.ingest, self.validate, self.split, self.preprocess, self.train, self.evaluate, self.register]


def training_graph(
    source: Any, label: Any, expectation: Any, test_size: Any, seed: Any, algorithm: Any, hyperparameters: Any,
    tracking_uri: Any, model_name: Any, metric: Any, margin: Any,
) -> TrainingTasks:  # fmt: skip
    ingested = ingest(source=source)
    ingested.set_display_name("ingest")
    checked = validate(data=ingested.outputs["data"], source=source, expectation=expectation)
    # Nothing is split, trained or registered unless the data met its expectation.
    split_task = split(data=ingested.outputs["data"], label=label, test_size=test_size, seed=seed).after(checked)
    fitted = preprocess(train_data=split_task.outputs["train_data"], label=label)
    trained = train(
        train_data=split_task.outputs["train_data"], preprocessor=fitted.outputs["preprocessor"], label=label,
        algorithm=algorithm, hyperparameters=hyperparameters, seed=seed,
    )  # fmt: skip
    evaluated = evaluate(model=trained.outputs["model"], test_data=split_task.outputs["test_data"], label=label)
    registered = register(
        model=trained.outputs["model"], test_data=split_task.outputs["test_data"], label=label,
        tracking_uri=tracking_uri, model_name=model_name, metric=metric, margin=margin, source=source,
        algorithm=algorithm, hyperparameters=hyperparameters,
    ).after(evaluated)  # fmt: skip
    return TrainingTasks(ingested, checked, split_task, fitted, trained, evaluated, registered)


def attach_credentials(tasks: TrainingTasks) -> None:
    """Credentials from Secrets, only where they are used: storage where data is read, MLflow
    where the model is registered. Both optional: a cluster may use workload identities."""
    storage_keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL")
    kubernetes.use_secret_as_env(
        tasks.ingest, secret_name=STORAGE_SECRET, secret_key_to_env={k: k for k in storage_keys}, optional=True
    )
    kubernetes.use_secret_as_env(
        tasks.register, secret_name=MLFLOW_SECRET, secret_key_to_env={"MLFLOW_TRACKING_TOKEN": "MLFLOW_TRACKING_TOKEN"},
        optional=True,
    )  # fmt: skip
