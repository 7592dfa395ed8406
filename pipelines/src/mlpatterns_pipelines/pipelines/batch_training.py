"""batch-training: the whole loop (retrieve, validate, preprocess, train, evaluate, register),
meant to run on a schedule (`mlpatterns-pipelines schedule batch-training ...`).

Caching is off: a scheduled run with the same parameters must read the data again and retrain,
not replay yesterday's outputs."""

from kfp import dsl

from mlpatterns_pipelines.pipelines.graph import attach_credentials, training_graph


@dsl.pipeline(name="batch-training", description="Retrain, evaluate and register the model on a schedule.")
def batch_training(
    source: str = "sklearn://breast_cancer",
    label: str = "target",
    expectation: dict = {},  # noqa: B006 (KFP reads the default; empty: the bundled dataset's)
    test_size: float = 0.25,
    seed: int = 42,
    algorithm: str = "hist_gradient_boosting",
    hyperparameters: dict = {},  # noqa: B006
    tracking_uri: str = "http://mlflow.mlflow.svc:5000",
    model_name: str = "breast-cancer-classifier",
    metric: str = "roc_auc",
    margin: float = 0.0,
) -> None:
    tasks = training_graph(
        source, label, expectation, test_size, seed, algorithm, hyperparameters, tracking_uri, model_name, metric,
        margin,
    )  # fmt: skip
    for task in tasks.all():
        task.set_caching_options(False)
    attach_credentials(tasks)
