"""Bring the model to a local path: as it is for local paths and pvc://, through kserve-storage
for s3://, gs:// and https://, and through the MLflow client for models:/ URIs."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from mlpatterns_server.loading.retry import fetch_with_retries
from mlpatterns_server.settings import ServerSettings

log = logging.getLogger(__name__)
_REMOTE_SCHEMES = ("s3://", "gs://", "http://", "https://")


@dataclass(frozen=True)
class FetchedModel:
    path: Path
    registry_version: str | None = None


@contextlib.contextmanager
def download_folder(settings: ServerSettings) -> Iterator[Path | None]:
    """Where a model fetched from elsewhere is downloaded, for as long as the process uses it:
    --model_dir when given (the user's folder, kept), else a folder of this process's own under
    --download_dir, removed when it is done, also when the fetch fails. None: nothing to download."""
    uri = settings.model_uri or ""
    if not uri.startswith((*_REMOTE_SCHEMES, "models:/")):
        yield None
        return
    if settings.model_dir:
        target = Path(settings.model_dir)
        target.mkdir(parents=True, exist_ok=True)
        yield target
        return
    root = Path(settings.download_dir)
    root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(root)
    target = Path(tempfile.mkdtemp(prefix=f"{settings.model_name}-{os.getpid()}-", dir=root))
    previous = signal.signal(signal.SIGTERM, _removing_then_ending(target))
    try:
        yield target
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(target, ignore_errors=True)


def _removing_then_ending(folder: Path) -> Callable[[int, FrameType | None], None]:
    """SIGTERM's default ends the process on the spot, past every `finally`; uvicorn re-raises it
    after its graceful shutdown. Remove the folder first, then end as the signal would. Only in
    this process: forked children inherit the handler (kserve-storage downloads S3 objects in a
    multiprocessing pool, which ends its workers with SIGTERM), and one must not remove the model
    it has just downloaded."""
    owner = os.getpid()

    def handler(signum: int, frame: FrameType | None) -> None:
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    return handler


# <model>-<pid>-<random>: the folder of the process with that id.
_OWNED = re.compile(r"^.+-(\d+)-[^-]+$")


def _remove_abandoned(root: Path) -> None:
    """The folders of servers that were killed before they could remove their own (an OOM kill
    leaves a model's copy in the pod's /tmp at each restart, until the volume is full). A folder
    with this process's own id is a previous container's (both ran as pid 1): this one has none yet."""
    for folder in root.iterdir():
        owner = _OWNED.match(folder.name)
        if owner and folder.is_dir() and (int(owner[1]) == os.getpid() or not _alive(int(owner[1]))):
            log.info("removing %s, left by a server that is no longer running", folder)
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        pass
    return True


def fetch_model(settings: ServerSettings, target: Path | None) -> FetchedModel:
    """The model at a local path; `target` is where a remote one is downloaded (download_folder)."""
    uri = settings.model_uri
    if not uri:
        assert settings.model_dir is not None
        return FetchedModel(Path(settings.model_dir))
    if uri.startswith("models:/"):
        assert target is not None
        return _fetch_registered(uri, settings, target)
    if uri.startswith("pvc://"):
        # KServe mounts the claim; pvc://CLAIM/PATH lives at <mount root>/PATH.
        _, _, inside = uri.removeprefix("pvc://").partition("/")
        return FetchedModel(Path(settings.pvc_mount_root) / inside)
    if uri.startswith("file://") or not uri.startswith(_REMOTE_SCHEMES):
        return FetchedModel(Path(uri.removeprefix("file://")))
    assert target is not None
    from kserve_storage import Storage

    path = fetch_with_retries(
        lambda: Storage.download(uri, out_dir=str(target)),
        uri,
        settings.load_attempts,
        settings.load_backoff_seconds,
    )
    return FetchedModel(Path(path))


def _fetch_registered(uri: str, settings: ServerSettings, target: Path) -> FetchedModel:
    from mlpatterns_server.loading import registry

    tracking = registry.tracking_uri(settings)
    log.info("looking up %s in the MLflow registry at %s", uri, tracking)

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
