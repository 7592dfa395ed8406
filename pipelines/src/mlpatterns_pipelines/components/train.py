from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from mlpatterns_pipelines.components import TRAINING_IMAGE


@dsl.component(base_image=TRAINING_IMAGE, install_kfp_package=False)
def train(
    train_data: Input[Dataset],
    preprocessor: Input[Model],
    label: str,
    algorithm: str,
    hyperparameters: dict,
    seed: int,
    model: Output[Model],
) -> None:
    """Train the classifier (hist_gradient_boosting, random_forest, logistic_regression or xgboost)
    on the preprocessed rows; save preprocessing and model as one scikit-learn Pipeline."""
    import joblib
    import pandas as pd

    from mlpatterns_pipelines.steps.estimators import train as fit

    trained = fit(
        pd.read_parquet(train_data.path), label, joblib.load(preprocessor.path), algorithm, hyperparameters, seed
    )
    joblib.dump(trained, model.path)
    model.metadata.update({"framework": "sklearn", "algorithm": algorithm})
