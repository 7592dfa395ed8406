from kfp import dsl
from kfp.dsl import ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from mlpatterns_pipelines.components import TRAINING_IMAGE


@dsl.component(base_image=TRAINING_IMAGE, install_kfp_package=False)
def evaluate(
    model: Input[Model], test_data: Input[Dataset], label: str, metrics: Output[Metrics],
    classification: Output[ClassificationMetrics],
) -> None:  # fmt: skip
    """Score the model on the held-out test set: scalar metrics, the confusion matrix and (for
    binary labels) the ROC curve, shown in the Kubeflow UI."""
    import joblib
    import pandas as pd

    from mlpatterns_pipelines.steps.evaluation import confusion, roc_curve, score

    trained, test_frame = joblib.load(model.path), pd.read_parquet(test_data.path)
    for name, value in score(trained, test_frame, label).items():
        metrics.log_metric(name, value)
    classification.log_confusion_matrix(*confusion(trained, test_frame, label))
    curve = roc_curve(trained, test_frame, label)
    if curve is not None:
        classification.log_roc_curve(*curve)
