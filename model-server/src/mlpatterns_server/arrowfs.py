"""Files on a local disk or object storage through Arrow's filesystems, for the front-ends that
read or write tables (batch, the prediction-log lander)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.fs as pafs


class StorageError(Exception):
    """A location that cannot be used: say which and why."""


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    if uri.startswith("s3://"):
        return _s3(), uri.removeprefix("s3://")
    try:
        found: tuple[pafs.FileSystem, str] = pafs.FileSystem.from_uri(uri if "://" in uri else _absolute(uri))
        return found
    except (pa.ArrowInvalid, OSError) as error:
        raise StorageError(f"{uri}: {error}") from None


def _s3() -> pafs.S3FileSystem:
    """S3 as the AWS CLI and boto3 configure it (AWS_ENDPOINT_URL for MinIO and the like, the
    region), which Arrow's own defaults do not all read; bounded so that a wrong endpoint fails."""
    import os
    from urllib.parse import urlsplit

    options: dict[str, object] = {"connect_timeout": 10, "request_timeout": 60}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parsed = urlsplit(endpoint)
        options.update(endpoint_override=parsed.netloc, scheme=parsed.scheme or "https")
    options["region"] = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return pafs.S3FileSystem(**options)


def _absolute(path: str) -> str:
    import os

    return os.path.abspath(path)


def shut_down() -> None:
    """Arrow's S3 client hangs the interpreter's exit unless it is shut down first."""
    pafs.finalize_s3()
