"""Find an unreachable MLflow tracking server at the start of a run, in seconds, instead of after
every step has run and the MLflow client has retried for minutes."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_SECONDS = 5.0


class TrackingUnreachable(Exception):
    """The tracking server does not answer, or the local store cannot be created."""


def check_reachable(uri: str, timeout: float = TIMEOUT_SECONDS) -> None:
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TrackingUnreachable(f"cannot create the MLflow store's folder {folder}: {error.strerror}") from None
        return
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # a server answered (a proxy's 401 or 404 included): it is there
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise TrackingUnreachable(f"the MLflow tracking server at {uri} does not answer: {reason}") from None
