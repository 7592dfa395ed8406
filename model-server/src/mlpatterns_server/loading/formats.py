"""Which format a model artifact is in, decided from the files, and the loader for it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from mlpatterns_server.errors import ModelLoadError
from mlpatterns_server.loading.loaded import LoadedModel
from mlpatterns_server.settings import ModelFormat

log = logging.getLogger(__name__)

SUFFIX_FORMATS = {
    ".joblib": "sklearn",
    ".pkl": "sklearn",
    ".pickle": "sklearn",
    ".skops": "sklearn",
    ".json": "xgboost",
    ".ubj": "xgboost",
    ".onnx": "onnx",
}
MLFLOW_MARKER = "MLmodel"
_EXPECTED = "an MLmodel file (MLflow) or one of " + ", ".join(f"*{s}" for s in SUFFIX_FORMATS)


def detect_format(path: Path, requested: ModelFormat = "auto") -> tuple[str, Path]:
    """The format and the artifact to load; refuses with the reason when none or several fit."""
    if not path.exists():
        raise ModelLoadError(f"model path {path} does not exist")
    if path.is_dir() and (path / MLFLOW_MARKER).is_file() and requested in ("auto", "mlflow"):
        return "mlflow", path
    if requested == "mlflow":
        raise ModelLoadError(f"--model_format mlflow, but {path} has no {MLFLOW_MARKER} file")
    files = (
        [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    )
    candidates = [(SUFFIX_FORMATS[p.suffix.lower()], p) for p in files if _is_candidate(p)]
    if requested != "auto":
        candidates = [(fmt, p) for fmt, p in candidates if fmt == requested]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        found = ", ".join(p.name for p in files[:10]) or "nothing"
        wanted = f"a model file of format '{requested}'" if requested != "auto" else _EXPECTED
        raise ModelLoadError(f"no model found in {path}: expected {wanted}; found {found}")
    names = ", ".join(p.name for _, p in candidates)
    raise ModelLoadError(f"{path} holds several model files ({names}); keep one, or point --model_dir at the file")


def _is_candidate(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        return False
    if suffix == ".json":
        # Only XGBoost's JSON models count; config and metadata JSON files sit beside models too.
        with path.open("rb") as handle:
            return b'"learner"' in handle.read(4096)
    return True


def load_model(path: Path, requested: ModelFormat = "auto", skops_trusted_types: Sequence[str] = ()) -> LoadedModel:
    fmt, artifact = detect_format(path, requested)
    log.info("found a %s model at %s", fmt, artifact)
    try:
        if fmt == "mlflow":
            from mlpatterns_server.loading.mlflow_format import load_mlflow

            return load_mlflow(artifact)
        if fmt == "xgboost":
            from mlpatterns_server.loading.xgboost_format import load_xgboost

            return load_xgboost(artifact)
        if fmt == "onnx":
            from mlpatterns_server.loading.onnx_format import load_onnx

            return load_onnx(artifact)
        from mlpatterns_server.loading.sklearn_format import load_pickled, load_skops

        if artifact.suffix.lower() == ".skops":
            return load_skops(artifact, skops_trusted_types)
        return load_pickled(artifact)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(
            f"{artifact} was detected as format '{fmt}' but does not load: {type(exc).__name__}: {exc}"
        ) from exc
