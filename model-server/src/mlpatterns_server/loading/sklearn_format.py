"""scikit-learn estimators (joblib, pickle or skops files), and XGBoost models saved through
its scikit-learn wrapper, which answer the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mlpatterns_server.errors import ModelLoadError
from mlpatterns_server.loading.loaded import LoadedModel, Tensors
from mlpatterns_server.protocol.tensors import TensorSpec, datatype_of

# Types a .skops file may hold without being named explicitly: the estimators and their arrays.
SKOPS_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


class SklearnModel(LoadedModel):
    format: ClassVar[str] = "sklearn"

    def __init__(self, estimator: Any, source: Path) -> None:
        can_predict = callable(getattr(estimator, "predict", None))
        can_transform = callable(getattr(estimator, "transform", None))
        if not (can_predict or can_transform):
            kind = type(estimator).__name__
            raise ModelLoadError(f"{source.name} holds a {kind}, not an estimator with predict() or transform()")
        self.estimator = estimator
        n_features = getattr(estimator, "n_features_in_", None)
        names = getattr(estimator, "feature_names_in_", None)
        # Estimators fitted on a DataFrame want their column names back.
        self._columns = list(names) if names is not None else None
        classes = getattr(estimator, "classes_", None)
        label_type = datatype_of(np.asarray(classes).dtype) if classes is not None else "FP64"
        outputs = []
        self._methods: dict[str, Callable[[Any], Any]] = {}
        if can_predict:
            outputs.append(TensorSpec("predict", label_type, (-1,)))
            self._methods["predict"] = estimator.predict
        if can_predict and classes is not None and hasattr(estimator, "predict_proba"):
            outputs.append(TensorSpec("predict_proba", "FP64", (-1, len(classes))))
            self._methods["predict_proba"] = estimator.predict_proba
        if can_transform:
            # Preprocessors (scalers, encoders, pipelines of them) answer with their features.
            outputs.append(TensorSpec("transform", "FP64", (-1, -1)))
            self._methods["transform"] = estimator.transform
        width = int(n_features) if n_features is not None else -1
        super().__init__(source, [TensorSpec("input-0", "FP64", (-1, width))], outputs)

    def predict(self, inputs: Tensors, outputs: Sequence[str]) -> Tensors:
        features: Any = inputs["input-0"]
        if self._columns is not None:
            import pandas as pd

            features = pd.DataFrame(features, columns=self._columns)
        return {name: _dense(self._methods[name](features)) for name in outputs}

    def describe(self) -> str:
        return f"{self.format} {type(self.estimator).__name__} from {self.source.name}"


def _dense(result: Any) -> np.ndarray:
    # One-hot encoders and vectorisers answer with sparse matrices; the wire wants dense rows.
    return np.asarray(result.toarray() if hasattr(result, "toarray") else result)


def load_pickled(path: Path) -> SklearnModel:
    import joblib

    # joblib reads its own files and plain pickles alike; both run code from the file, so only
    # serve artifacts you produced (prefer .skops from untrusted sources).
    return SklearnModel(joblib.load(path), path)


def load_skops(path: Path, extra_trusted: Sequence[str]) -> SklearnModel:
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=path)
    refused = [t for t in untrusted if not t.startswith(SKOPS_TRUSTED_PREFIXES) and t not in extra_trusted]
    if refused:
        raise ModelLoadError(
            f"{path.name} holds types outside scikit-learn, NumPy and SciPy: {', '.join(refused)}; "
            "if you trust them, list them in --skops_trusted_types"
        )
    return SklearnModel(skops.io.load(path, trusted=untrusted), path)


def load(path: Path, trusted_types: Sequence[str]) -> SklearnModel:
    """The format table's entry point: .skops files through skops (trust checked), the rest unpickled."""
    return load_skops(path, trusted_types) if path.suffix.lower() == ".skops" else load_pickled(path)
