"""The model server's settings: one typed object, read from MLPATTERNS_* environment variables and
from the command line, where the names are KServe's own (`--model_name`, `--model_dir`,
`--http_port`, `--workers`) so the image drops into a KServe ServingRuntime unchanged."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlpatterns_server.loading.formats import FORMATS
from mlpatterns_server.predlog.sinks import SINKS


class ComponentSettings(BaseSettings):
    """What the settings of every subcommand share: MLPATTERNS_* variables, no unknown argument,
    and the logs."""

    model_config = SettingsConfigDict(
        env_prefix="MLPATTERNS_",
        extra="ignore",
        env_ignore_empty=True,
        # KServe's own arguments are taken out before parsing (cli.KSERVE_ONLY); nothing else is unknown.
        cli_ignore_unknown_args=False,
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="For every process.")
    log_format: Literal["text", "json"] = Field("text", description="json: one object per line (time, level, ...).")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, level: object) -> object:
        return level.upper() if isinstance(level, str) else level


class HttpSettings(ComponentSettings):
    """What every front-end that listens for requests has: its address and the bounds on what a
    client may send (connection.py, request_body.py)."""

    http_port: int = Field(8080, ge=0, le=65535)
    host: str = "0.0.0.0"
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Largest request body accepted.")
    max_bodies_in_flight_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1024,
        description="Bytes of request bodies one worker receives at once; a request beyond it is answered 503.",
    )
    body_timeout_seconds: float = Field(60, gt=0, description="Time to receive a request body once its headers are in.")
    header_timeout_seconds: float = Field(
        10, gt=0, description="Time from a request's first byte (or a connection's opening) to the end of its headers."
    )
    max_header_bytes: int = Field(16 * 1024, ge=1024, description="Largest request line and headers together.")
    max_pipelined_requests: int = Field(
        128, ge=1, description="Requests one connection may queue; beyond, it answers those and closes."
    )
    timeout_keep_alive: int = Field(65, ge=1, description="Longer than Envoy's idle timeout.")
    grace_period: int = Field(30, ge=0, description="Seconds SIGTERM waits for in-flight requests.")
    access_log: bool = False


class ServerSettings(HttpSettings):
    model_config = SettingsConfigDict(protected_namespaces=(), cli_prog_name="mlpatterns-server")

    # -- the model
    model_name: str = Field("model", min_length=1, description="Name of the model on the endpoint path.")
    model_dir: str | None = Field(
        None,
        description="Local directory or file holding the model (KServe mounts it at /mnt/models). "
        "With --model_uri, the download target.",
    )
    model_uri: str | None = Field(
        None,
        description="Where to fetch the model at start: a local path, s3://, gs://, pvc://, https://, "
        "or the MLflow registry (models:/NAME@ALIAS, models:/NAME/VERSION).",
    )
    model_format: str = Field(
        "auto", description=f"Force a format instead of detecting it: one of {', '.join(FORMATS)}."
    )
    model_version: str | None = Field(
        None,
        description="Version label on metrics and events (default: the registry version for models:/, "
        "else a digest of the model files).",
    )
    role: str = Field("primary", pattern=r"^[a-z0-9][a-z0-9-]*$", description="primary, canary, shadow or any name.")
    predict_proba: bool = Field(
        False, description="v1 answers with class probabilities instead of labels (classifiers)."
    )
    skops_trusted_types: list[str] = Field(
        default_factory=list,
        description="Extra types a .skops file may contain beyond scikit-learn, NumPy and SciPy.",
    )

    # -- transformer mode (KServe's names): preprocess here, predict on the predictor
    predictor_host: str | None = Field(
        None, description="host[:port] of the predictor; set, the server runs as a KServe transformer."
    )
    predictor_protocol: Literal["v1", "v2"] = Field("v1", description="Protocol spoken to the predictor.")
    predictor_use_ssl: bool = False
    predictor_request_timeout_seconds: float = Field(600, gt=0)

    # -- fetching
    load_attempts: int = Field(5, ge=1, description="Attempts to fetch the model on transient errors.")
    load_backoff_seconds: float = Field(1.0, ge=0, description="First retry delay; doubles each time.")
    download_dir: str = Field("/tmp/mlpatterns-models", description="Where remote models are downloaded.")
    pvc_mount_root: str = Field("/mnt/pvc", description="Where pvc://CLAIM/PATH is mounted.")
    home: Path = Field(
        Path("~/.mlpatterns"),
        description="The kit's local state (MLPATTERNS_HOME): models:/ URIs read the MLflow store "
        "<home>/mlflow.db that mlpatterns-pipelines run-local writes, unless MLFLOW_TRACKING_URI is set.",
    )

    # -- HTTP (the connection limits are HttpSettings')
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Serve /metrics on this port instead (not on the prediction port); 0 keeps it on the "
        "prediction port.",
    )
    workers: int = Field(1, ge=1, description="Worker processes; metrics are aggregated across them.")
    offload_bytes: int = Field(
        512 * 1024,
        ge=0,
        description="JSON bodies larger than this are decoded in a helper process and predicted in a thread, so "
        "health checks and small requests are answered meanwhile; 0 decodes everything on the event loop.",
    )

    loop_model_threads: int = Field(
        1,
        ge=0,
        description="OpenMP threads for predictions made on the event loop (single requests and micro-batches, "
        "too small to gain from more); large requests, predicted in a thread, keep the library's default. "
        "0: the library's default everywhere.",
    )

    # -- micro-batching
    enable_batching: bool = Field(False, description="Group concurrent requests into one predict call.")
    max_batch_size: int = Field(32, ge=1, description="Most rows in one batch.")
    max_batch_wait_ms: float = Field(
        0.0,
        ge=0,
        description="How long an idle model waits to fill a batch; 0 takes whatever is queued.",
    )

    # -- prediction cache
    cache_redis_url: str | None = Field(
        None, description="Keep answers in this Redis (redis://[:password@]host:port/db); unset, no cache."
    )
    cache_ttl_seconds: int = Field(600, ge=1, description="How long a cached answer is kept.")
    cache_max_value_bytes: int = Field(
        1024 * 1024, ge=1, description="Answers larger than this are not cached (large batch requests)."
    )
    # 25 ms: on a 2-core machine with both cores busy, a 5 ms bound gave up on 27% of lookups to a
    # local Redis and 10 ms on 6%, 25 ms on none (bench/cache.py, part d).
    cache_timeout_ms: float = Field(
        25.0, gt=0, description="Longest wait for Redis on a request; past it the request is predicted as usual."
    )

    # -- prediction log
    prediction_log_sink: str = Field("none", description=f"Where events go: none, {', '.join(SINKS)}.")
    prediction_log_redis_url: str = "redis://localhost:6379/0"
    prediction_log_stream: str = "mlpatterns:predictions"
    prediction_log_stream_maxlen: int = Field(1_000_000, ge=1, description="Approximate stream cap.")
    prediction_log_http_url: str | None = Field(None, description="CloudEvents receiver for the http sink.")
    prediction_log_buffer_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="Bytes of events held for the sink, in memory and in the spool; beyond, new events are dropped.",
    )
    prediction_log_flush_seconds: float = Field(5.0, ge=0, description="Time to flush at shutdown.")
    prediction_log_spool: bool = Field(
        True, description="Write events ahead to a file so a crashed worker's events are sent after restart."
    )
    prediction_log_spool_dir: str | None = Field(
        None,
        description="Where the spool files live; keep it on a volume. Default: <temp dir>/mlpatterns-spool-"
        "<model>-<role>-<port>, one per server so that servers on one host never share (or fight over) it.",
    )
    namespace: str = Field("default", description="Namespace reported in CloudEvents.")

    @field_validator("model_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value != "auto" and value not in FORMATS:
            raise ValueError(f"{value!r} is not a model format; use auto or one of {', '.join(FORMATS)}")
        return value

    @field_validator("prediction_log_sink")
    @classmethod
    def _known_sink(cls, value: str) -> str:
        if value != "none" and value not in SINKS:
            raise ValueError(f"{value!r} is not a prediction-log sink; use none or one of {', '.join(SINKS)}")
        return value

    @property
    def spool_directory(self) -> Path:
        if self.prediction_log_spool_dir:
            return Path(self.prediction_log_spool_dir) / f"{self.model_name}-{self.role}"
        return Path(tempfile.gettempdir()) / f"mlpatterns-spool-{self.model_name}-{self.role}-{self.http_port}"

    @model_validator(mode="after")
    def _check(self) -> ServerSettings:
        if not self.model_dir and not self.model_uri:
            raise ValueError("give --model_dir (a local model) or --model_uri (where to fetch it)")
        if self.cache_redis_url and self.predictor_host:
            raise ValueError(
                "--cache_redis_url caches the model's answers; set it on the predictor, not on a transformer "
                "(--predictor_host)"
            )
        if self.prediction_log_sink == "http" and not self.prediction_log_http_url:
            raise ValueError("--prediction_log_sink http needs --prediction_log_http_url")
        return self
