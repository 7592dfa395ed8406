"""The patterns of the catalogue: what each is for, and its chart and docs page when they have landed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlpatterns.paths import REPOSITORY, charts_dir


@dataclass(frozen=True)
class Pattern:
    name: str
    kind: str
    use_case: str

    @property
    def has_chart(self) -> bool:
        return (charts_dir() / self.name / "Chart.yaml").is_file()

    @property
    def docs(self) -> Path | None:
        """Its page under docs/, once the pattern has landed."""
        page = REPOSITORY / "docs" / f"{self.name}.md"
        return page if page.is_file() else None


PATTERNS = [
    Pattern("web-single", "serving", "one small model behind one web service, the simplest thing that works"),
    Pattern("synchronous", "serving", "each request waits for its prediction: a KServe InferenceService"),
    Pattern("asynchronous", "serving", "slow models: accept at once, predict from a queue, fetch the result later"),
    Pattern("batch", "serving", "predictions for a whole table on a schedule, no one waiting"),
    Pattern("preprocess-prediction", "serving", "preprocessing and model in separate pods with their own resources"),
    Pattern("microservice-vertical", "serving", "models in sequence, each feeding the next (InferenceGraph Sequence)"),
    Pattern("microservice-horizontal", "serving", "models side by side on one request, answers aggregated (Ensemble)"),
    Pattern("prediction-cache", "serving", "repeated inputs answered from Redis instead of the model"),
    Pattern("shadow-ab", "qa", "a candidate sees mirrored production traffic; its answers are compared, not served"),
    Pattern("online-ab", "qa", "split live traffic between models by weight or header, watch both"),
    Pattern("condition-based", "operation", "route to a model by header or request content"),
    Pattern("model-in-image", "operation", "the model baked into the server image: immutable, no storage at start"),
    Pattern("model-load", "operation", "one image, the model pulled at start from object storage or MLflow"),
    Pattern("prediction-log", "operation", "every prediction as an event to a stream, landed in object storage"),
    Pattern("batch-training", "training", "retrain, evaluate and register on a schedule"),
    Pattern("pipeline-training", "training", "training as a pipeline of cached steps with their own resources"),
]


def find(name: str) -> Pattern | None:
    return next((pattern for pattern in PATTERNS if pattern.name == name), None)
