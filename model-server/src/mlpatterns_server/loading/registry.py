"""models:/ URIs: find the version in the MLflow registry and download it.

The registry is MLFLOW_TRACKING_URI when set, else the kit's local store,
`sqlite:///$MLPATTERNS_HOME/mlflow.db`, which `mlpatterns-pipelines run-local` writes. A lookup
never creates a store: a missing local store, model, alias or version is reported with the store
it looked in and what is there instead."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mlpatterns_server.errors import ModelLoadError
from mlpatterns_server.settings import ServerSettings

REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+|latest))$")


def local_store_uri(home: Path) -> str:
    """The kit's local MLflow store under MLPATTERNS_HOME (shared with mlpatterns-pipelines)."""
    return f"sqlite:///{home.expanduser().resolve() / 'mlflow.db'}"


def tracking_uri(settings: ServerSettings) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or local_store_uri(settings.home)


def _check_store_exists(uri: str, tracking: str) -> None:
    """MLflow creates an empty sqlite store when asked about a missing one; refuse instead."""
    if not tracking.startswith("sqlite:///"):
        return
    database = Path(tracking.removeprefix("sqlite:///"))
    if not database.is_file():
        raise ModelLoadError(
            f"{uri}: there is no MLflow store at {database}: nothing has been registered there yet. Train and register "
            "a model first (mlpatterns-pipelines run-local batch-training), or set MLFLOW_TRACKING_URI to your "
            "tracking server"
        )


def resolve_version(uri: str, tracking: str) -> tuple[str, str]:
    """(model name, version number) that a models:/ URI names in the registry at `tracking`."""
    match = REGISTRY_URI.match(uri)
    if not match:
        raise ModelLoadError(f"{uri} is not a registry URI: use models:/NAME@ALIAS or models:/NAME/VERSION")
    _check_store_exists(uri, tracking)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    name, alias, version = match["name"], match["alias"], match["version"]
    found = client.search_registered_models(filter_string=f"name = '{name}'")
    if not found:
        names = sorted(model.name for model in client.search_registered_models())
        held = f"it holds {', '.join(names)}" if names else "it holds no models"
        raise ModelLoadError(f"{uri}: no model named '{name}' in the MLflow registry at {tracking}; {held}")
    if alias:
        aliases: dict[str, Any] = dict(found[0].aliases or {})
        if alias not in aliases:
            listed = ", ".join(f"{a} (v{v})" for a, v in sorted(aliases.items()))
            held = f"its aliases are {listed}" if listed else "it has no aliases"
            raise ModelLoadError(f"{uri}: model '{name}' has no alias '{alias}' in the registry at {tracking}; {held}")
        return name, str(aliases[alias])
    numbers = sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))
    if version == "latest":
        return name, str(numbers[-1])
    if int(version) not in numbers:
        listed = ", ".join(str(number) for number in numbers)
        raise ModelLoadError(f"{uri}: model '{name}' has no version {version} in the registry at {tracking}; "
                             f"its versions are {listed}")  # fmt: skip
    return name, version


def download(name: str, version: str, tracking: str, target: Path) -> Path:
    import mlflow
    from mlflow.artifacts import download_artifacts

    # models:/ artifact URIs are resolved through the process-wide registry URI, whatever the
    # arguments say; left unset, MLflow would create ./mlflow.db and look there.
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(tracking)
    return Path(download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(target)))
