"""The real services tests run against: redis-server, an S3-compatible server (moto), and an MLflow
tracking server with its registry on sqlite. Each listens on a free loopback port."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import ManagedProcess, free_port

BIN = Path(sys.executable).parent


def start_redis(workdir: Path, port: int | None = None) -> tuple[ManagedProcess, str]:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise RuntimeError("redis-server is not installed: run make setup")
    port = port or free_port()
    process = ManagedProcess(
        [
            redis_server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        workdir / f"redis-{port}.log",
    )
    _wait_tcp(process, port)
    return process, f"redis://127.0.0.1:{port}/0"


def _wait_tcp(process: ManagedProcess, port: int) -> None:
    import socket
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(process.logs())
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} not open:\n{process.logs()}")


def s3_client_env(endpoint: str) -> dict[str, str]:
    """What a client (kserve-storage, boto3) needs to reach an S3 endpoint on loopback."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "S3_VERIFY_SSL": "false",
    }


@dataclass(frozen=True)
class S3Server:
    process: ManagedProcess
    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        return s3_client_env(self.endpoint)


def start_s3(workdir: Path, port: int | None = None) -> S3Server:
    port = port or free_port()
    process = ManagedProcess(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], workdir / f"moto-{port}.log"
    )
    endpoint = f"http://127.0.0.1:{port}"
    process.wait_http(f"{endpoint}/moto-api/", timeout=60)
    return S3Server(process, endpoint)


@dataclass(frozen=True)
class MlflowServer:
    process: ManagedProcess
    tracking_uri: str


def start_mlflow(workdir: Path) -> MlflowServer:
    port = free_port()
    process = ManagedProcess(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{workdir / 'mlflow.db'}",
            "--artifacts-destination",
            str(workdir / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        workdir / "mlflow.log",
        cwd=workdir,
    )
    tracking_uri = f"http://127.0.0.1:{port}"
    process.wait_http(f"{tracking_uri}/health", timeout=120)
    return MlflowServer(process, tracking_uri)
