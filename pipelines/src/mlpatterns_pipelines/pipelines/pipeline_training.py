"""pipeline-training: training as a pipeline of cached steps, each in its own pod with its own
resources and retries. Training gets the big machine (CPU, memory, optionally GPUs and a node
selector); the rest stays small. Intermediate data are artifacts in the pipeline root (object
storage on Kubeflow); a rerun with the same inputs reuses them (caching on)."""

from kfp import dsl, kubernetes

from mlpatterns_pipelines.pipelines.graph import CLUSTER_TRACKING_URI, DEFAULTS, attach_credentials, training_graph

# (cpu request, cpu limit, memory request, memory limit) of the light steps.
LIGHT = ("250m", "1", "512Mi", "1Gi")
MEDIUM = ("500m", "2", "1Gi", "4Gi")


@dsl.pipeline(name="pipeline-training", description="Training as cached steps with their own resources.")
def pipeline_training(
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
    train_cpu: str = "2",
    train_memory: str = "4Gi",
    train_gpus: int = 0,
    train_accelerator: str = "nvidia.com/gpu",
    train_node_selector: dict = {},  # noqa: B006
) -> None:
    tasks = training_graph(
        source, label, expectation, test_size, seed, algorithm, hyperparameters, tracking_uri, model_name, metric,
        margin,
    )  # fmt: skip
    for task, (cpu, cpu_limit, memory, memory_limit) in [
        (tasks.ingest, LIGHT), (tasks.validate, LIGHT), (tasks.split, LIGHT), (tasks.preprocess, MEDIUM),
        (tasks.evaluate, MEDIUM), (tasks.register, LIGHT),
    ]:  # fmt: skip
        task.set_cpu_request(cpu).set_cpu_limit(cpu_limit).set_memory_request(memory).set_memory_limit(memory_limit)
    tasks.train.set_cpu_request(train_cpu).set_cpu_limit(train_cpu)
    tasks.train.set_memory_request(train_memory).set_memory_limit(train_memory)
    tasks.train.set_accelerator_type(train_accelerator).set_accelerator_limit(train_gpus)
    kubernetes.add_node_selector_json(tasks.train, node_selector_json=train_node_selector)

    for task in tasks.all():
        task.set_caching_options(True)
    # Steps that reach the network (object storage, MLflow) retry with backoff.
    for task in (tasks.ingest, tasks.register):
        task.set_retry(num_retries=3, backoff_duration="30s", backoff_factor=2.0, backoff_max_duration="5m")
    # Compute steps retry once (a lost node). Validation never: the same data cannot start passing.
    for task in (tasks.split, tasks.preprocess, tasks.train, tasks.evaluate):
        task.set_retry(num_retries=1, backoff_duration="10s")
    attach_credentials(tasks)
