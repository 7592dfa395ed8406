"""Two models that disagree on a known share of the rows: the primary and the shadow of the shadow
tests. Each is a decision tree that memorises its own labels for distinct rows, and the shadow's
labels differ from the primary's on exactly `disagreement` of them, so the comparison's figures
can be checked against a number planted in the data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from sklearn.tree import DecisionTreeClassifier


@dataclass(frozen=True)
class ShadowPair:
    rows: np.ndarray
    primary_labels: np.ndarray
    shadow_labels: np.ndarray
    primary_dir: Path
    shadow_dir: Path

    @property
    def disagreement(self) -> float:
        return float(np.mean(self.primary_labels != self.shadow_labels))


def shadow_pair(folder: Path, rows: int = 500, disagreement: float = 0.2, seed: int = 0) -> ShadowPair:
    generator = np.random.default_rng(seed)
    features = generator.permutation(rows * 4).reshape(rows, 4).astype(np.float64)  # distinct rows
    primary = generator.integers(0, 3, rows)
    shadow = primary.copy()
    flipped = generator.choice(rows, round(rows * disagreement), replace=False)
    shadow[flipped] = (shadow[flipped] + 1) % 3
    dirs = []
    for name, labels in (("primary", primary), ("shadow", shadow)):
        model = DecisionTreeClassifier(random_state=0).fit(features, labels)
        assert (model.predict(features) == labels).all()
        (folder / name).mkdir(parents=True, exist_ok=True)
        joblib.dump(model, folder / name / "model.joblib")
        dirs.append(folder / name)
    return ShadowPair(features, primary, shadow, dirs[0], dirs[1])
