"""The model comes from where --model_uri points: a real S3-compatible server (moto), a GCS
emulator, HTTP and HTTPS (a real TLS server with its own certificate), a PVC mount, or a local
path; transient storage errors are retried, permanent ones end the process at once."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from tests.support.forward import PortForward
from tests.support.model_server import Iris, ServerFactory
from tests.support.processes import ManagedProcess, free_port
from tests.support.services import S3Server, s3_client_env, start_gcs, start_https_files, start_s3

ROW = [6.2, 3.4, 5.4, 2.3]


def _upload(server: S3Server, iris: Iris, bucket: str, key: str) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(iris.joblib_dir / "model.joblib"), bucket, key)


def _predicts(url: str, iris: Iris) -> None:
    answer = httpx.post(url, json={"instances": [ROW]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": iris.estimator.predict([ROW]).tolist()}


def test_s3(start_server: ServerFactory, s3_server: S3Server, iris: Iris, tmp_path: Path) -> None:
    _upload(s3_server, iris, "models", "iris/v1/model.joblib")
    server = start_server("--model_uri", "s3://models/iris/v1", "--download_dir", str(tmp_path), env=s3_server.env)
    _predicts(server.predict_url, iris)


def test_transient_s3_outage_is_retried_and_readiness_waits(
    start_server: ServerFactory, iris: Iris, tmp_path: Path
) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**s3_client_env(endpoint), "S3_MAX_ATTEMPTS": "1"}
    server = start_server(
        "--model_uri",
        "s3://late/iris",
        "--download_dir",
        str(tmp_path),
        "--load_attempts",
        "12",
        "--load_backoff_seconds",
        "0.5",
        env=env,
        wait=False,
    )
    deadline = time.monotonic() + 30
    while "retrying in" not in server.process.logs():
        assert time.monotonic() < deadline, server.process.logs()
        time.sleep(0.2)
    with pytest.raises(httpx.ConnectError):  # not ready: nothing answers before the model is loaded
        httpx.get(f"{server.url}/v2/health/ready")
    # The outage ends with the storage whole: its port starts answering in front of a filled S3.
    storage = start_s3(tmp_path)
    try:
        _upload(storage, iris, "late", "iris/model.joblib")
        forward = PortForward(port, int(storage.endpoint.rsplit(":", 1)[1]))
        try:
            server.process.wait_http(f"{server.url}/v2/health/ready", timeout=60)
            _predicts(server.predict_url, iris)
        finally:
            forward.stop()
        assert "EndpointConnectionError" in server.process.logs()
    finally:
        storage.process.stop()


def test_missing_object_fails_at_once_with_the_reason(
    start_server: ServerFactory, s3_server: S3Server, iris: Iris, tmp_path: Path
) -> None:
    _upload(s3_server, iris, "other", "iris/model.joblib")
    downloads = str(tmp_path / "downloads")
    server = start_server(
        "--model_uri", "s3://other/absent", "--download_dir", downloads, env=s3_server.env, wait=False
    )
    assert server.process.wait_exit(timeout=60) == 1
    logs = server.process.logs()
    assert "cannot serve model 'iris': cannot fetch s3://other/absent" in logs
    assert "No model found" in logs
    assert "retrying" not in logs
    assert list((tmp_path / "downloads").iterdir()) == [], "a failed fetch leaves no folder behind"


def test_http_and_the_download_is_removed_when_the_server_ends(
    start_server: ServerFactory, iris: Iris, tmp_path: Path
) -> None:
    port = free_port()
    files = ManagedProcess(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(iris.joblib_dir)],
        tmp_path / "http.log",
    )
    downloads = tmp_path / "downloads"
    # A folder of a server that was killed (its process is gone): removed at the next start.
    abandoned = downloads / f"iris-{_dead_pid()}-k1ll3d"
    (abandoned / "model.joblib").parent.mkdir(parents=True)
    (abandoned / "model.joblib").write_bytes(b"a model's copy")
    try:
        files.wait_http(f"http://127.0.0.1:{port}/", timeout=30)
        server = start_server("--model_uri", f"http://127.0.0.1:{port}/model.joblib", "--download_dir", str(downloads))
        _predicts(server.predict_url, iris)
        (own,) = downloads.iterdir()
        assert own.name.startswith(f"iris-{server.process.pid}-")
        assert (own / "model.joblib").is_file()
        server.process.terminate_gracefully()
        assert list(downloads.iterdir()) == []
    finally:
        files.stop()


def _dead_pid() -> int:
    """The id of a process that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_pvc(start_server: ServerFactory, iris: Iris, tmp_path: Path) -> None:
    shutil.copytree(iris.joblib_dir, tmp_path / "models" / "iris")
    server = start_server("--model_uri", "pvc://model-claim/models/iris", "--pvc_mount_root", str(tmp_path))
    _predicts(server.predict_url, iris)


def test_missing_local_model_exits_non_zero(start_server: ServerFactory, tmp_path: Path) -> None:
    server = start_server("--model_dir", str(tmp_path / "absent"), wait=False)
    assert server.process.wait_exit(timeout=60) == 1
    assert f"cannot serve model 'iris': model path {tmp_path / 'absent'} does not exist" in server.process.logs()


def test_gcs(start_server: ServerFactory, iris: Iris, tmp_path: Path) -> None:
    from google.cloud import storage

    gcs = start_gcs(tmp_path)
    try:
        with _environment(gcs.env):
            client = storage.Client.create_anonymous_client()
            client.create_bucket("models").blob("iris/v2/model.joblib").upload_from_filename(
                str(iris.joblib_dir / "model.joblib")
            )
        server = start_server("--model_uri", "gs://models/iris/v2", "--download_dir", str(tmp_path), env=gcs.env)
        _predicts(server.predict_url, iris)
    finally:
        gcs.process.stop()


def test_https(start_server: ServerFactory, iris: Iris, tmp_path: Path) -> None:
    files, url, certificate = start_https_files(iris.joblib_dir, tmp_path)
    try:
        # The server's own certificate is trusted the way a private CA would be, not by turning checks off.
        trust = {"REQUESTS_CA_BUNDLE": str(certificate), "SSL_CERT_FILE": str(certificate)}
        server = start_server("--model_uri", f"{url}/model.joblib", "--download_dir", str(tmp_path), env=trust)
        _predicts(server.predict_url, iris)
        untrusted = start_server("--model_uri", f"{url}/model.joblib", "--download_dir", str(tmp_path / "u"),
                                 "--load_attempts", "1", wait=False)  # fmt: skip
        assert untrusted.process.wait_exit(timeout=60) == 1
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.process.logs()
    finally:
        files.stop()


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_a_forked_child_ended_by_sigterm_leaves_the_download_in_place(tmp_path: Path) -> None:
    """kserve-storage downloads S3 objects in a forked pool and ends its workers with SIGTERM: the
    handler they inherit must not remove the model the server has just downloaded."""
    from mlpatterns_server.loading.storage import download_folder
    from mlpatterns_server.settings import ServerSettings

    settings = ServerSettings.model_validate(
        {"model_name": "iris", "model_uri": "s3://bucket/iris", "download_dir": str(tmp_path)}
    )
    with download_folder(settings) as target:
        assert target is not None
        (target / "model.joblib").write_bytes(b"model")
        started, running = os.pipe()
        child = os.fork()
        if child == 0:  # the pool's worker: says it runs, then waits to be ended
            os.write(running, b"!")
            time.sleep(60)
            os._exit(0)
        os.read(started, 1)  # a signal that lands before the child runs is dropped by Python's after-fork
        os.close(started)
        os.close(running)
        os.kill(child, signal.SIGTERM)
        _, status = os.waitpid(child, 0)
        assert os.WIFSIGNALED(status)
        assert os.WTERMSIG(status) == signal.SIGTERM
        assert (target / "model.joblib").read_bytes() == b"model"
    assert not target.exists(), "the server's own exit still removes it"
