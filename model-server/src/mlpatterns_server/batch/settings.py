"""Settings of `mlpatterns-server batch`: the model's, and where rows come from and go."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from mlpatterns_server.settings import ServerSettings


class BatchSettings(ServerSettings):
    model_config = SettingsConfigDict(cli_prog_name="mlpatterns-server batch")

    input: str = Field(
        description="Parquet or CSV: a file or a folder, local or s3:// / gs://; or an SQLAlchemy URL "
        "(with --input_table)."
    )
    input_table: str | None = Field(None, description="The table to read when --input is an SQLAlchemy URL.")
    output: str = Field(
        description="A folder (local, s3://, gs://) that gets run_id=<id>/part-<shard>.parquet, or an "
        "SQLAlchemy URL (with --output_table)."
    )
    output_table: str | None = Field(None, description="The table to write when --output is an SQLAlchemy URL.")
    run_id: str = Field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$",
        description="This run's id, written with every prediction; re-running an id replaces its output.",
    )
    feature_columns: list[str] = Field(
        default_factory=list,
        description="The columns the model reads, in order (default: the model's named inputs, else every "
        "column but --key_columns).",
    )
    key_columns: list[str] = Field(
        default_factory=list, description="Columns copied to the output beside each prediction (e.g. an id)."
    )
    chunk_rows: int = Field(262_144, ge=1, description="Rows read, predicted and written at a time.")
    max_reject_fraction: float = Field(
        0.01, ge=0, le=1, description="Bad rows (written to the rejects) above this share of the rows stop the run."
    )
    shard_index: int = Field(
        default_factory=lambda: int(os.environ.get("JOB_COMPLETION_INDEX", "0")),
        ge=0,
        description="This pod's shard (default: JOB_COMPLETION_INDEX, set by an Indexed Job).",
    )
    shard_count: int = Field(1, ge=1, description="Shards the input is split into (the Job's completions).")
    shard_key: str | None = Field(
        None, description="For an SQL input split into shards: an integer column; shard i reads key % count == i."
    )
    max_rows: int | None = Field(
        None, ge=1, description="Stop after this many rows (a smoke test of the model and the input, e.g. helm test)."
    )
    progress: bool | None = Field(None, description="A progress bar (default: when stdout is a terminal).")

    @model_validator(mode="after")
    def _check_batch(self) -> BatchSettings:
        if self.shard_index >= self.shard_count:
            raise ValueError(f"--shard_index {self.shard_index} is not below --shard_count {self.shard_count}")
        if is_sql(self.input) and not self.input_table:
            raise ValueError("--input is an SQLAlchemy URL: name the table with --input_table")
        if is_sql(self.output) and not self.output_table:
            raise ValueError("--output is an SQLAlchemy URL: name the table with --output_table")
        if is_sql(self.input) and self.shard_count > 1 and not self.shard_key:
            raise ValueError("an SQL input split into shards needs --shard_key (an integer column)")
        return self


def is_sql(uri: str) -> bool:
    """An SQLAlchemy URL (sqlite:///..., postgresql+psycopg://...) rather than a path or bucket."""
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    return bool(scheme) and scheme.split("+", 1)[0] not in {"s3", "gs", "gcs", "file", "http", "https"}
