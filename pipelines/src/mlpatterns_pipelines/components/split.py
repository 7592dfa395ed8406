from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from mlpatterns_pipelines.components import TRAINING_IMAGE


@dsl.component(base_image=TRAINING_IMAGE, install_kfp_package=False)
def split(
    data: Input[Dataset],
    label: str,
    test_size: float,
    seed: int,
    train_data: Output[Dataset],
    test_data: Output[Dataset],
) -> None:
    """Hold out a stratified test set."""
    import pandas as pd

    from mlpatterns_pipelines.steps.splitting import split as stratified_split

    train_frame, test_frame = stratified_split(pd.read_parquet(data.path), label, test_size, seed)
    train_frame.to_parquet(train_data.path)
    test_frame.to_parquet(test_data.path)
    train_data.metadata["rows"], test_data.metadata["rows"] = len(train_frame), len(test_frame)
