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
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    name, alias, version = match["name"], match["alias"], match["version"]
    versions = _versions(client, name, uri, tracking)
    if alias:
        try:
            return name, str(client.get_model_version_by_alias(name, alias).version)
        except MlflowException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
        aliases = [f"{a} (v{v.version})" for v in versions for a in _aliases(client, name, v.version)]
        held = f"its aliases are {', '.join(aliases)}" if aliases else "it has no aliases"
        raise ModelLoadError(f"{uri}: model '{name}' has no alias '{alias}' in the registry at {tracking}; {held}")
    numbers = sorted((int(v.version) for v in versions), reverse=True)
    if version == "latest":
        return name, str(numbers[0])
    if int(version) not in numbers:
        listed = ", ".join(str(n) for n in sorted(numbers))
        raise ModelLoadError(f"{uri}: model '{name}' has no version {version} in the registry at {tracking}; "
                             f"its versions are {listed}")  # fmt: skip
    return name, version


def _versions(client: Any, name: str, uri: str, tracking: str) -> list[Any]:
    versions = list(client.search_model_versions(f"name = '{name}'"))
    if versions:
        return versions
    names = sorted(model.name for model in client.search_registered_models())
    held = f"it holds {', '.join(names)}" if names else "it holds no models"
    raise ModelLoadError(f"{uri}: no model named '{name}' in the MLflow registry at {tracking}; {held}")


def _aliases(client: Any, name: str, version: str) -> list[str]:
    # search results leave aliases out; each version's own record has them.
    return sorted(client.get_model_version(name, version).aliases)


def download(name: str, version: str, tracking: str, target: Path) -> Path:
    import mlflow
    from mlflow.artifacts import download_artifacts

    # models:/ artifact URIs are resolved through the process-wide registry URI, whatever the
    # arguments say; left unset, MLflow would create ./mlflow.db and look there.
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(tracking)
    return Path(download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(target)))
