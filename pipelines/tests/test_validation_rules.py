"""Each validation rule refuses bad data with the column and the rule named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlpatterns_pipelines.steps.sources import read_source
from mlpatterns_pipelines.steps.validation import ValidationFailed, bundled_expectation, validate


@pytest.fixture
def frame() -> pd.DataFrame:
    return read_source("sklearn://breast_cancer")


@pytest.fixture
def expectation() -> dict[str, object]:
    return bundled_expectation("breast_cancer")


def test_the_bundled_data_meets_its_expectation(frame: pd.DataFrame, expectation: dict[str, object]) -> None:
    assert validate(frame, expectation)["rows"] == 569


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda f: f.drop(columns=["mean radius"]),
         "column 'mean radius': required by the expectation, missing from the data (rule: required-column)"),
        (lambda f: f.assign(**{"mean texture": f["mean texture"].mask(f.index % 5 == 0)}),
         "column 'mean texture': 20.0% missing, more than the 1.0% allowed (rule: max-missing-fraction)"),
        (lambda f: f.assign(target=1),
         "column 'target': a single class (1): nothing to learn to tell apart (rule: label-classes)"),
        (lambda f: f.assign(**{"mean area": f["mean area"].where(f.index != 3, 99999.0)}),
         "column 'mean area': 1 values outside [0, 5000.0], e.g. 99999.0 (rule: range)"),
        (lambda f: f.assign(**{"mean smoothness": "smooth"}),
         "column 'mean smoothness': holds object values, not numbers (rule: numeric)"),
        (lambda f: pd.concat([f[f.target == 1], f[f.target == 0].head(10)]),
         "column 'target': class 0 is 2.7% of rows, below the 5.0% minimum (rule: min-class-fraction)"),
        (lambda f: f.head(20), "column '*': 20 rows, fewer than the 50 required (rule: min-rows)"),
        (lambda f: f.assign(target=np.where(f.index % 2, 1, 7)), "classes [7] are not among [0, 1]"),
    ],
    ids=["missing-column", "too-many-nans", "single-class", "out-of-range", "not-numeric", "imbalanced",
         "too-few-rows", "unknown-class"],
)  # fmt: skip
def test_each_rule_names_its_column(
    frame: pd.DataFrame, expectation: dict[str, object], spoil: object, message: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        validate(spoil(frame), expectation)  # type: ignore[operator]
    assert message in str(refused.value)


def test_unknown_sources_are_refused() -> None:
    with pytest.raises(ValueError, match="sklearn://titanic is not a bundled dataset"):
        read_source("sklearn://titanic")
    with pytest.raises(ValueError, match="use sklearn://NAME, s3://BUCKET/KEY"):
        read_source("ftp://data/x.csv")
