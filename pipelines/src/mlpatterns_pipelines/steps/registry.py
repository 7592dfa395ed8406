"""Register the trained model in MLflow and decide what serves.

Every run logs the model with its signature and an input example and registers a new version,
aliased `challenger`. The current `champion` is scored on the same test set; the challenger takes
the `champion` alias only if it beats it on the chosen metric by at least the margin (the first
model becomes champion). The decision and both scores are logged on the run. The serving charts
load `models:/NAME@champion`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from mlpatterns_pipelines.steps.evaluation import HIGHER_IS_BETTER, score
from mlpatterns_pipelines.steps.preprocessing import features

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class Decision:
    version: str
    promoted: bool
    reason: str
    metric: str
    challenger_score: float
    champion_score: float | None
    champion_version: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def register(
    model: Any,
    test: pd.DataFrame,
    label: str,
    tracking_uri: str,
    model_name: str,
    metric: str,
    margin: float,
    run_params: dict[str, Any],
    experiment: str = "mlpatterns-training",
) -> Decision:
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"metric {metric!r} is not one of {', '.join(HIGHER_IS_BETTER)}")
    import mlflow
    import sklearn
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    client = MlflowClient()
    inputs = features(test, label)
    challenger_scores = score(model, test, label)
    if metric not in challenger_scores:
        raise ValueError(f"metric {metric!r} cannot be computed for this model (it has no predict_proba)")
    with mlflow.start_run():
        mlflow.log_params({key: str(value) for key, value in run_params.items()})
        mlflow.log_metrics({f"test_{name}": value for name, value in challenger_scores.items()})
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(inputs, model.predict(inputs)),
            input_example=inputs.head(5),
            # The serving image has the same locked libraries, so cloudpickle round-trips, and it
            # also carries estimators skops cannot (XGBoost inside a Pipeline).
            serialization_format="cloudpickle",
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            registered_model_name=model_name,
        )
        version = str(logged.registered_model_version)
        client.set_registered_model_alias(model_name, CHALLENGER, version)
        decision = _decide(client, model_name, version, test, label, metric, margin, challenger_scores[metric])
        if decision.promoted:
            client.set_registered_model_alias(model_name, CHAMPION, version)
        mlflow.set_tags(
            {
                "mlpatterns.decision": "promoted" if decision.promoted else "kept-champion",
                "mlpatterns.reason": decision.reason,
                "mlpatterns.registered_version": version,
            }
        )
        mlflow.log_metric("decision_challenger_score", decision.challenger_score)
        if decision.champion_score is not None:
            mlflow.log_metric("decision_champion_score", decision.champion_score)
    return decision


def _decide(
    client: Any, model_name: str, version: str, test: pd.DataFrame, label: str, metric: str, margin: float,
    challenger_score: float,
) -> Decision:  # fmt: skip
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        champion = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return Decision(version, True, "first model: no champion yet", metric, challenger_score, None, None)
    # Score the champion on this run's test set: the same data for both, whatever it was trained on.
    champion_model = mlflow.sklearn.load_model(f"models:/{model_name}/{champion.version}")
    champion_score = score(champion_model, test, label).get(metric)
    if champion_score is None:
        return Decision(version, True, f"the champion cannot compute {metric}", metric, challenger_score, None,
                        str(champion.version))  # fmt: skip
    promoted = challenger_score >= champion_score + margin
    comparison = "beats" if promoted else "does not beat"
    reason = (
        f"challenger {metric} {challenger_score:.4f} {comparison} champion v{champion.version} "
        f"{champion_score:.4f} by the margin {margin}"
    )
    return Decision(version, promoted, reason, metric, challenger_score, champion_score, str(champion.version))
