"""Hold out a test set, stratified on the label so both sets see every class."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split


def split(frame: pd.DataFrame, label: str, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=frame[label])
    return train, test
