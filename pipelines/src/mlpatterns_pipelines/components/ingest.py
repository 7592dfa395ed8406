from kfp import dsl
from kfp.dsl import Dataset, Output

from mlpatterns_pipelines.components import TRAINING_IMAGE


@dsl.component(base_image=TRAINING_IMAGE, install_kfp_package=False)
def ingest(source: str, data: Output[Dataset]) -> None:
    """Read the training table from `source` (sklearn://NAME, s3://BUCKET/KEY.csv|.parquet, https://
    or a path) and store it as Parquet."""
    from mlpatterns_pipelines.steps.sources import read_source

    frame = read_source(source)
    frame.to_parquet(data.path)
    data.metadata.update({"rows": len(frame), "columns": len(frame.columns), "source": source})
