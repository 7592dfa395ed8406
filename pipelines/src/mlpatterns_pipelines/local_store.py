"""The kit's local state on this machine, MLPATTERNS_HOME (default ~/.mlpatterns): the MLflow
store that `run-local` and `train` register into unless MLFLOW_TRACKING_URI or --tracking-uri says
otherwise, its artifacts, the pipelines' artifacts and the run logs. The model server reads the
same store for models:/ URIs (mlpatterns_server.loading.registry; a test keeps the two agreed)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("MLPATTERNS_HOME") or "~/.mlpatterns").expanduser().resolve()


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set, else the local store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home() / 'mlflow.db'}"


def artifact_location(tracking: str) -> str | None:
    """Artifacts of a sqlite store live beside its database file, not in the working directory
    (MLflow's default, ./mlruns); a tracking server decides for itself (None)."""
    if not tracking.startswith("sqlite:///"):
        return None
    return (Path(tracking.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
