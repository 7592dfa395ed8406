"""Settings of `mlpatterns-server collector`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mlpatterns_server.settings import ComponentSettings


class CollectorSettings(ComponentSettings):
    model_config = SettingsConfigDict(cli_prog_name="mlpatterns-server collector")

    redis_url: str = Field("redis://localhost:6379/0", description="The Redis holding the stream of events.")
    stream: str = Field("mlpatterns:predictions", description="The stream of events (our servers' redis sink's too).")
    stream_maxlen: int = Field(10_000_000, ge=1, description="Approximate cap of the stream's length.")
    output: str = Field(
        description="Where events land as Parquet: a folder (local, s3://, gs://) that gets "
        "date=<day>/model=<name>/version=<v>/part-<first event id>.parquet."
    )
    receive: bool = Field(True, description="Receive CloudEvents over HTTP on --http_port.")
    land: bool = Field(True, description="Land the stream as Parquet.")
    http_port: int = Field(8080, ge=0, le=65535)
    metrics_port: int = Field(
        0, ge=0, le=65535, description="Serve /metrics on this port of its own; 0 keeps it on --http_port."
    )
    host: str = "0.0.0.0"
    join_ttl_seconds: int = Field(
        600,
        ge=1,
        description="How long a KServe request event waits for its response, and how long each event's state "
        "(GET /v1/events/{id}; duplicates are known by it) is kept.",
    )
    logger_mode: Literal["all", "request", "response"] = Field(
        "all",
        description="What the KServe loggers that send here send (their logger.mode): all joins each request with "
        "its response; request or response lands each event alone.",
    )
    group: str = Field("lander", description="The landers' consumer group.")
    consumer: str = Field("lander", description="The lander's name in the group (one lander runs per stream).")
    max_file_rows: int = Field(100_000, ge=1, description="A Parquet file is closed at this many events...")
    max_file_age_seconds: float = Field(60, gt=0, description="...or this long after its first event arrived.")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Largest event accepted (413 beyond).")
    max_bodies_in_flight_bytes: int = Field(
        128 * 1024 * 1024, ge=1024, description="Bytes of events received at once; an event beyond it is answered 503."
    )
    body_timeout_seconds: float = Field(60, gt=0, description="Time to receive an event once its headers are in.")
