"""The model formats the server serves, in one table: the settings, the charts' schemas, the
ServingRuntimes and the docs are checked against it by the tests. Which format an artifact is in
is decided from its files; each format's module (imported only when a model of it is loaded)
builds the LoadedModel."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlpatterns_server.errors import ModelLoadError
from mlpatterns_server.loading.loaded import LoadedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelFormat:
    name: str  # --model_format, and the modelFormat name a KServe InferenceService asks for
    kserve_version: str  # the modelFormat version the ServingRuntimes declare
    suffixes: tuple[str, ...]  # the files a model of this format is found by
    module: str  # mlpatterns_server.loading.<module>.load builds it


FORMATS = {
    f.name: f
    for f in (
        ModelFormat("sklearn", "1", (".joblib", ".pkl", ".pickle", ".skops"), "sklearn_format"),
        ModelFormat("xgboost", "3", (".json", ".ubj"), "xgboost_format"),
        ModelFormat("onnx", "1", (".onnx",), "onnx_format"),
        # An MLflow model is a directory with an MLmodel file, found by that file.
        ModelFormat("mlflow", "3", (), "mlflow_format"),
    )
}
SUFFIX_FORMATS = {suffix: f.name for f in FORMATS.values() for suffix in f.suffixes}
MLFLOW_MARKER = "MLmodel"
_EXPECTED = "an MLmodel file (MLflow) or one of " + ", ".join(f"*{s}" for s in SUFFIX_FORMATS)


def detect_format(path: Path, requested: str = "auto") -> tuple[str, Path]:
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


def load_model(path: Path, requested: str = "auto", skops_trusted_types: Sequence[str] = ()) -> LoadedModel:
    fmt, artifact = detect_format(path, requested)
    log.info("found a %s model at %s", fmt, artifact)
    try:
        module = importlib.import_module(f"mlpatterns_server.loading.{FORMATS[fmt].module}")
        loaded: LoadedModel = module.load(artifact, skops_trusted_types)
        return loaded
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(
            f"{artifact} was detected as format '{fmt}' but does not load: {type(exc).__name__}: {exc}"
        ) from exc
