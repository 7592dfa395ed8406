"""Running the model server as a real process in tests, and the reference model it serves."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from sklearn.linear_model import LogisticRegression

from tests.support.processes import ManagedProcess, free_port


@dataclass(frozen=True)
class Iris:
    features: np.ndarray
    labels: np.ndarray
    estimator: LogisticRegression
    joblib_dir: Path


@dataclass
class Server:
    process: ManagedProcess
    url: str
    model: str

    @property
    def predict_url(self) -> str:
        return f"{self.url}/v1/models/{self.model}:predict"

    @property
    def infer_url(self) -> str:
        return f"{self.url}/v2/models/{self.model}/infer"


class ServerFactory:
    """Starts our server as processes on free ports, and stops them all at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[ManagedProcess] = []

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, wait: bool = True, model: str = "iris",
        cwd: Path | None = None, subcommand: str | None = None, ready_path: str = "/v2/health/ready",
    ) -> Server:  # fmt: skip
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "mlpatterns_server",
            *([subcommand] if subcommand else []),
            "--model_name",
            model,
            "--http_port",
            str(port),
            "--host",
            "127.0.0.1",
            *args,
        ]
        # Each server spools to a folder of its own unless a test shares one on purpose.
        env = {
            "MLPATTERNS_PREDICTION_LOG_SPOOL_DIR": str(self.workdir / f"spool-{port}"),
            "MLPATTERNS_DOWNLOAD_DIR": str(self.workdir / "downloads"),
            # Never the developer's own local store (~/.mlpatterns).
            "MLPATTERNS_HOME": str(self.workdir / "home"),
            **(env or {}),
        }
        process = ManagedProcess(command, self.workdir / f"server-{port}.log", env=env, cwd=cwd)
        self.started.append(process)
        server = Server(process, f"http://127.0.0.1:{port}", model)
        if wait:
            process.wait_http(f"{server.url}{ready_path}", timeout=90)
        return server

    def close(self) -> None:
        for process in self.started:
            process.stop()


def wait_in_flight(server: Server, count: int = 1, timeout: float = 30.0) -> None:
    """Until the server says it is answering `count` requests (its in-flight gauge): evidence
    that a request has arrived, where a sleep would only hope so."""
    prefix = f'mlpatterns_requests_in_flight{{model="{server.model}"'
    deadline = time.monotonic() + timeout
    while True:
        lines = httpx.get(f"{server.url}/metrics").text.splitlines()
        if any(line.startswith(prefix) and float(line.rsplit(" ", 1)[1]) == count for line in lines):
            return
        assert time.monotonic() < deadline, f"the server never had {count} requests in flight"
        time.sleep(0.02)
