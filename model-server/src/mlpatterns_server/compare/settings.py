"""Settings of `mlpatterns-server compare`."""

from __future__ import annotations

import os
import socket
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mlpatterns_server.settings import ComponentSettings


class CompareSettings(ComponentSettings):
    model_config = SettingsConfigDict(cli_prog_name="mlpatterns-server compare")

    redis_url: str = Field("redis://localhost:6379/0", description="The Redis holding the prediction-log stream.")
    stream: str = Field("mlpatterns:predictions", description="The prediction-log stream both servers write.")
    group: str = Field("compare", description="This comparison's consumer group on the stream.")
    consumer: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}", description="Its name in the group."
    )
    primary_role: str = Field("primary", description="The role the primary's events carry (its --role).")
    shadow_role: str = Field("shadow", description="The role the shadow's events carry.")
    window_seconds: float = Field(
        30, gt=0, description="How long an event waits for its partner before it counts as unpaired."
    )
    mirror_percent: float = Field(
        100,
        ge=0,
        le=100,
        description="The share of requests mirrored to the shadow: at 100 a primary event with no shadow partner "
        "counts as missing; below, it is expected and only counted as unpaired.",
    )
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="How outputs compare: auto (labels are classes, floats are regression), or forced."
    )
    tolerance: float = Field(
        0.0, ge=0, description="Numeric outputs agree when they differ by at most this much (regression)."
    )
    http_port: int = Field(8080, ge=0, le=65535, description="/metrics, /v1/summary and health.")
    host: str = "0.0.0.0"
    summary_url: str | None = Field(
        None,
        description="Print the summary of the comparison running at this URL (http://host:port) as a table and "
        "exit, instead of comparing.",
    )
    summary_format: Literal["table", "json"] = Field("table", description="How --summary_url prints the summary.")
