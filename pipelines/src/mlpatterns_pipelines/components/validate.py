from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from mlpatterns_pipelines.components import TRAINING_IMAGE


@dsl.component(base_image=TRAINING_IMAGE, install_kfp_package=False)
def validate(data: Input[Dataset], source: str, expectation: dict, report: Output[Artifact]) -> None:
    """Check the table against the expectation (the one shipped for a bundled dataset when empty).
    Fails the run with every broken rule, each naming its column, so nothing downstream runs."""
    import json

    import pandas as pd

    from mlpatterns_pipelines.steps.batch import expectation_for
    from mlpatterns_pipelines.steps.validation import validate as check

    summary = check(pd.read_parquet(data.path), expectation_for(source, expectation))
    with open(report.path, "w") as handle:
        json.dump(summary, handle)
    report.metadata.update(summary)
