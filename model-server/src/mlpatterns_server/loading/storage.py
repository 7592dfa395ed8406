"""Bring the model to a local path: as it is for local paths and pvc://, through kserve-storage
for s3://, gs:// and https://, and through the MLflow client for models:/ URIs."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlpatterns_server.loading.retry import fetch_with_retries
from mlpatterns_server.settings import ServerSettings

log = logging.getLogger(__name__)
_REMOTE_SCHEMES = ("s3://", "gs://", "http://", "https://")


@dataclass(frozen=True)
class FetchedModel:
    path: Path
    registry_version: str | None = None


def fetch_model(settings: ServerSettings) -> FetchedModel:
    uri = settings.model_uri
    if not uri:
        assert settings.model_dir is not None
        return FetchedModel(Path(settings.model_dir))
    if uri.startswith("models:/"):
        return _fetch_registered(uri, settings)
    if uri.startswith("pvc://"):
        # KServe mounts the claim; pvc://CLAIM/PATH lives at <mount root>/PATH.
        _, _, inside = uri.removeprefix("pvc://").partition("/")
        return FetchedModel(Path(settings.pvc_mount_root) / inside)
    if uri.startswith("file://") or not uri.startswith(_REMOTE_SCHEMES):
        return FetchedModel(Path(uri.removeprefix("file://")))
    target = _target(settings)
    from kserve_storage import Storage

    path = fetch_with_retries(
        lambda: Storage.download(uri, out_dir=str(target)),
        uri,
        settings.load_attempts,
        settings.load_backoff_seconds,
    )
    return FetchedModel(Path(path))


def _target(settings: ServerSettings) -> Path:
    if settings.model_dir:
        target = Path(settings.model_dir)
        target.mkdir(parents=True, exist_ok=True)
        return target
    Path(settings.download_dir).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{settings.model_name}-", dir=settings.download_dir))


def _fetch_registered(uri: str, settings: ServerSettings) -> FetchedModel:
    from mlpatterns_server.loading import registry

    tracking = registry.tracking_uri(settings)
    log.info("looking up %s in the MLflow registry at %s", uri, tracking)
    target = _target(settings)

    def fetch() -> FetchedModel:
        name, version = registry.resolve_version(uri, tracking)
        return FetchedModel(registry.download(name, version, tracking, target), version)

    return fetch_with_retries(fetch, uri, settings.load_attempts, settings.load_backoff_seconds)


def content_digest(path: Path) -> str:
    """A short digest of the model files: the version label when nothing better is known."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(file.relative_to(path).as_posix().encode() if file != path else b"")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return "sha256-" + digest.hexdigest()[:12]
