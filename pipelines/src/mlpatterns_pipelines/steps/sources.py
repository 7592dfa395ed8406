"""Where training data comes from: a dataset bundled with scikit-learn (no download), or a CSV or
Parquet file on a local path, over HTTP(S), or in S3-compatible object storage."""

from __future__ import annotations

import io
from urllib.parse import urlparse

import pandas as pd

BUNDLED = {"breast_cancer", "iris", "wine", "digits"}


def check_source(source: str) -> None:
    """Refuse a source `read_source` could never read (a scheme or bundled name it does not know)."""
    parsed = urlparse(source)
    if parsed.scheme == "sklearn":
        name = parsed.netloc or parsed.path.strip("/")
        if name not in BUNDLED:
            raise ValueError(f"sklearn://{name} is not a bundled dataset; choose one of {', '.join(sorted(BUNDLED))}")
    elif parsed.scheme not in ("s3", "http", "https", "", "file"):
        raise ValueError(f"source {source!r}: use sklearn://NAME, s3://BUCKET/KEY, https://... or a file path")


def read_source(source: str) -> pd.DataFrame:
    """The table behind `source`, with the label in a column (bundled datasets call it `target`)."""
    parsed = urlparse(source)
    if parsed.scheme == "sklearn":
        return _bundled(parsed.netloc or parsed.path.strip("/"))
    if parsed.scheme == "s3":
        return _parse(_s3_bytes(parsed.netloc, parsed.path.lstrip("/")), parsed.path)
    if parsed.scheme in ("http", "https"):
        return _read(source)
    if parsed.scheme in ("", "file"):
        return _read(parsed.path)
    raise ValueError(f"source {source!r}: use sklearn://NAME, s3://BUCKET/KEY, https://... or a file path")


def _bundled(name: str) -> pd.DataFrame:
    if name not in BUNDLED:
        raise ValueError(f"sklearn://{name} is not a bundled dataset; choose one of {', '.join(sorted(BUNDLED))}")
    from sklearn import datasets

    frame: pd.DataFrame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    return frame


def _read(location: str) -> pd.DataFrame:
    return pd.read_parquet(location) if location.endswith(".parquet") else pd.read_csv(location)


def _parse(content: bytes, name: str) -> pd.DataFrame:
    buffer = io.BytesIO(content)
    return pd.read_parquet(buffer) if name.endswith(".parquet") else pd.read_csv(buffer)


def _s3_bytes(bucket: str, key: str) -> bytes:
    import boto3

    # AWS_ENDPOINT_URL (MinIO and other S3-compatible stores) and credentials come from the environment.
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    return bytes(body.read())
