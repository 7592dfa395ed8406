"""The real services tests run against: redis-server, an S3-compatible server (moto), and an MLflow
tracking server with its registry on sqlite. Each listens on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
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


@contextlib.contextmanager
def tracking(uri: str) -> Iterator[None]:
    """mlflow's process-wide tracking URI for a block, then as it was. mlflow.set_tracking_uri also
    sets MLFLOW_TRACKING_URI for subprocesses, and get_tracking_uri() answers its default
    (sqlite:///mlflow.db) when nothing is set: restoring that would send every later subprocess
    of the worker to a store in its working directory."""
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)  # type: ignore[arg-type]  # None unsets it


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


@dataclass(frozen=True)
class GcsServer:
    process: ManagedProcess
    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        """What google-cloud-storage (and so kserve-storage) needs to talk to the emulator."""
        return {"STORAGE_EMULATOR_HOST": self.endpoint, "GOOGLE_CLOUD_PROJECT": "test"}


def start_gcs(workdir: Path) -> GcsServer:
    """A Google Cloud Storage emulator (gcp-storage-emulator), in memory."""
    port = free_port()
    process = ManagedProcess(
        [str(BIN / "gcp-storage-emulator"), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
        workdir / f"gcs-{port}.log",
    )
    _wait_tcp(process, port)
    return GcsServer(process, f"http://127.0.0.1:{port}")


def self_signed_certificate(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for `host` and its key, for a real TLS server on loopback (the certificate
    is its own CA: clients trust it through REQUESTS_CA_BUNDLE)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = builder.serial_number(x509.random_serial_number())
    builder = builder.not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
    builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), False)
    certificate = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True).sign(
        key, hashes.SHA256()
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


HTTPS_FILES = """
import functools, http.server, ssl, sys
port, directory, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def start_https_files(directory: Path, workdir: Path) -> tuple[ManagedProcess, str, Path]:
    """A real HTTPS server of `directory`'s files; its URL and the certificate to trust."""
    cert, key = self_signed_certificate(workdir)
    port = free_port()
    process = ManagedProcess(
        [sys.executable, "-c", HTTPS_FILES, str(port), str(directory), str(cert), str(key)], workdir / "https.log"
    )
    _wait_tcp(process, port)
    return process, f"https://127.0.0.1:{port}", cert
