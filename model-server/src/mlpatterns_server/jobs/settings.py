"""Settings of the asynchronous pattern's two processes. Both take the model's settings (the API
loads the model to check each job's input exactly as the synchronous endpoint does, and never
predicts) and the queue's; the worker adds how it reads and retries."""

from __future__ import annotations

import os
import socket

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mlpatterns_server.settings import ServerSettings


class QueueSettings(ServerSettings):
    redis_url: str = Field("redis://localhost:6379/0", description="The Redis (6.2 or newer) holding jobs and results.")
    stream: str | None = Field(None, description="The jobs' Redis Stream; default mlpatterns:jobs:<model_name>.")
    group: str = Field("workers", description="The workers' consumer group.")
    result_ttl_seconds: int = Field(
        86400, ge=1, description="How long a job's status and result are kept after it is submitted or finished."
    )

    @property
    def stream_name(self) -> str:
        return self.stream or f"mlpatterns:jobs:{self.model_name}"


class AsyncApiSettings(QueueSettings):
    model_config = SettingsConfigDict(cli_prog_name="mlpatterns-server async-api")

    idempotency_ttl_seconds: int = Field(86400, ge=1, description="How long an Idempotency-Key maps to its first job.")
    submit_confirm_seconds: float = Field(
        30,
        gt=0,
        description="When Redis does not answer a submission, how long the API keeps asking whether the job was "
        "queued before answering 503 (a 503 means not queued, unless it says the job's fate is unknown).",
    )


class AsyncWorkerSettings(QueueSettings):
    model_config = SettingsConfigDict(cli_prog_name="mlpatterns-server async-worker")

    consumer: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        description="This worker's name in the group (default: host and process id).",
    )
    read_count: int = Field(64, ge=1, le=10000, description="Jobs read at a time and predicted in one call.")
    visibility_timeout_seconds: float = Field(
        60, gt=0, description="A job read by a worker that has not finished it after this long is claimed by another."
    )
    max_attempts: int = Field(3, ge=1, description="Attempts before a job that keeps failing is marked failed.")
    predictor_url: str | None = Field(
        None,
        description="Send each job to this model server (http://host:port) instead of predicting in this process; "
        "its answer is the job's result.",
    )
