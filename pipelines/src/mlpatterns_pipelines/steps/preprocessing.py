"""Fit the preprocessing on the training set only: impute and scale numbers, one-hot encode
categories. The fitted transformer travels inside the registered model, so serving applies
exactly what training applied (and it can also be served alone, by a transformer)."""

from __future__ import annotations

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def features(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    return frame.drop(columns=[label])


def fit_preprocessor(train: pd.DataFrame, label: str) -> ColumnTransformer:
    inputs = features(train, label)
    numeric = list(inputs.select_dtypes(include="number").columns)
    categorical = [column for column in inputs.columns if column not in numeric]
    transformers: list[tuple[str, Pipeline, list[str]]] = [
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric)
    ]
    if categorical:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(
            ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"), encoder), categorical)
        )
    return ColumnTransformer(transformers).fit(inputs)
