"""batch-training: the whole loop (retrieve, validate, preprocess, train, evaluate, register),
meant to run on a schedule (`mlpatterns-pipelines schedule batch-training ...`).

Caching is off: a scheduled run with the same parameters must read the data again and retrain,
not replay yesterday's outputs."""

from kfp import dsl

from mlpatterns_pipelines.pipelines.graph import CLUSTER_TRACKING_URI, DEFAULTS, attach_credentials, training_graph


@dsl.pipeline(name="batch-training", description="Retrain, evaluate and register the model on a schedule.")
def batch_training(
    source: str = DEFAULTS.source,
    label: str = DEFAULTS.label,
    expectation: dict = {},  # noqa: B006 (KFP reads the default; empty: the bundled dataset's)
    test_size: float = DEFAULTS.test_size,
    seed: int = DEFAULTS.seed,
    algorithm: str = DEFAULTS.algorithm,
    hyperparameters: dict = {},  # noqa: B006
    tracking_uri: str = CLUSTER_TRACKING_URI,
    model_name: str = DEFAULTS.model_name,
    metric: str = DEFAULTS.metric,
    margin: float = DEFAULTS.margin,
) -> None:
    tasks = training_graph(
        source, label, expectation, test_size, seed, algorithm, hyperparameters, tracking_uri, model_name, metric,
        margin,
    )  # fmt: skip
    for task in tasks.all():
        task.set_caching_options(False)
    attach_credentials(tasks)
