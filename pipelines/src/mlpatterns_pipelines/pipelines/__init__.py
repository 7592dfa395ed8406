"""The pipelines, by the name the command line and the compiled files use."""

from collections.abc import Callable
from typing import Any

from mlpatterns_pipelines.pipelines.batch_training import batch_training
from mlpatterns_pipelines.pipelines.pipeline_training import pipeline_training

PIPELINES: dict[str, Callable[..., Any]] = {
    "batch-training": batch_training,
    "pipeline-training": pipeline_training,
}
