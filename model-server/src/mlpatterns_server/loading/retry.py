"""Retry fetching on transient storage errors with exponential backoff; fail at once on the rest."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from mlpatterns_server.errors import ModelLoadError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Exception class names (botocore, requests, urllib3, google-api-core, builtins) that mean
# "try again": the store is unreachable, slow or overloaded, not that the model is missing.
_TRANSIENT_NAMES = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "Timeout",
    "TimeoutError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "ProtocolError",
    "ServiceUnavailable",
    "TooManyRequests",
    "InternalServerError",
    "BadGateway",
    "GatewayTimeout",
}
_TRANSIENT_S3_CODES = {"500", "502", "503", "504", "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"}
_TRANSIENT_MLFLOW_CODES = {"TEMPORARILY_UNAVAILABLE", "INTERNAL_ERROR", "REQUEST_LIMIT_EXCEEDED"}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_transient(exc: BaseException) -> bool:
    for error in _chain(exc):
        if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(error).__mro__):
            return True
        response = getattr(error, "response", None)
        if isinstance(response, dict):  # botocore ClientError
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _TRANSIENT_S3_CODES or status >= 500:
                return True
        status_code = getattr(response, "status_code", None)  # requests / httpx
        if isinstance(status_code, int) and status_code >= 500:
            return True
        if getattr(error, "error_code", None) in _TRANSIENT_MLFLOW_CODES:
            return True
    return False


def fetch_with_retries(
    fetch: Callable[[], T],
    what: str,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    delay = backoff
    attempt = 1
    while True:
        try:
            return fetch()
        except ModelLoadError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if not is_transient(exc):
                raise ModelLoadError(f"cannot fetch {what}: {reason}") from exc
            if attempt >= attempts:
                raise ModelLoadError(
                    f"cannot fetch {what} after {attempts} attempts: {reason}", transient=True
                ) from exc
            log.warning(
                "fetching %s failed (attempt %d of %d): %s; retrying in %.1fs",
                what,
                attempt,
                attempts,
                reason,
                delay,
            )
            sleep(delay)
            attempt += 1
            delay *= 2
