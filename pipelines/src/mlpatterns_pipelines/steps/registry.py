"""Register the trained model in MLflow and decide what serves.

Every run logs the model with its signature and an input example and registers a new version,
aliased `challenger`. The current `champion` is scored on the same test set; the challenger takes
the `champion` alias only if it scores strictly higher on the chosen metric, and higher by at
least the margin (the first model becomes champion). A tie keeps the champion: a model already
serving is not replaced by one that is no better. The decision and both scores are logged on the
run. The serving charts load `models:/NAME@champion`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from mlpatterns_pipelines.local_store import artifact_location
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
    client = MlflowClient()
    if client.get_experiment_by_name(experiment) is None:
        client.create_experiment(experiment, artifact_location=artifact_location(tracking_uri))
    mlflow.set_experiment(experiment)
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
    promoted, reason = compare(metric, challenger_score, champion_score, str(champion.version), margin)
    return Decision(version, promoted, reason, metric, challenger_score, champion_score, str(champion.version))


def compare(metric: str, challenger: float, champion: float, champion_version: str, margin: float) -> tuple[bool, str]:
    """Whether the challenger takes the champion alias, and why, in words that hold."""
    shown_challenger, shown_champion = _distinct(challenger, champion)
    scores = f"challenger {metric} {shown_challenger} vs champion v{champion_version} {shown_champion}"
    gain = challenger - champion
    if gain == 0:
        return False, f"{scores}: a tie, so the champion stays"
    if gain < 0:
        return False, f"{scores}: the challenger does not beat the champion, which stays"
    if gain < margin:
        return False, f"{scores}: better by {gain:.2g}, less than the margin {margin}, so the champion stays"
    return True, f"{scores}: better by {gain:.2g} (margin {margin}), so the challenger is promoted"


def _distinct(a: float, b: float) -> tuple[str, str]:
    """Both scores with 4 decimals, or as many more as it takes to show that they differ."""
    for decimals in range(4, 17):
        shown = f"{a:.{decimals}f}", f"{b:.{decimals}f}"
        if shown[0] != shown[1] or a == b:
            return shown
    return repr(a), repr(b)


def newest_decision(tracking_uri: str, model_name: str) -> tuple[str, str]:
    """The newest registered version of the model and what its run decided about the champion."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    (newest,) = client.search_model_versions(f"name = '{model_name}'", order_by=["version_number DESC"], max_results=1)
    tags = client.get_run(newest.run_id).data.tags if newest.run_id else {}
    champion = client.get_model_version_by_alias(model_name, CHAMPION).version
    return str(newest.version), f"{tags.get('mlpatterns.reason', 'no decision recorded')} (champion: v{champion})"
