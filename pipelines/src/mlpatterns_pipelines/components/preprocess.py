from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from mlpatterns_pipelines.components import TRAINING_IMAGE


@dsl.component(base_image=TRAINING_IMAGE, install_kfp_package=False)
def preprocess(train_data: Input[Dataset], label: str, preprocessor: Output[Model]) -> None:
    """Fit imputation, scaling and encoding on the training set; saved with joblib, it travels
    inside the registered model and can be served alone by a transformer."""
    import joblib
    import pandas as pd

    from mlpatterns_pipelines.steps.preprocessing import fit_preprocessor

    fitted = fit_preprocessor(pd.read_parquet(train_data.path), label)
    joblib.dump(fitted, preprocessor.path)
    preprocessor.metadata["framework"] = "sklearn"
