"""Every prediction becomes one event in the configured sink (a real redis-server, a real HTTP
receiver, stdout); a dead sink costs no request anything; SIGTERM flushes what is buffered."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import cast

import httpx
import pytest
import redis

from mlpatterns_server.predlog.sinks import RedisStreamSink
from mlpatterns_server.settings import ServerSettings
from tests.support.model_server import Iris, ServerFactory
from tests.support.processes import free_port
from tests.support.receivers import HttpReceiver, start_receiver
from tests.support.services import start_redis

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 3.4, 5.4, 2.3]]


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _events(client: redis.Redis, stream: str) -> list[dict[str, object]]:
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(stream))
    return [json.loads(fields[b"event"]) for _, fields in entries]


def _metric(server_url: str, line_prefix: str) -> float:
    for line in httpx.get(f"{server_url}/metrics").text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _redis_sink(iris: Iris, url: str, stream: str = "mlpatterns:predictions") -> list[str]:
    """Arguments that serve the iris model and log its predictions to a Redis Stream."""
    return ["--model_dir", str(iris.joblib_dir), "--prediction_log_sink", "redis",
            "--prediction_log_redis_url", url, "--prediction_log_stream", stream]  # fmt: skip


def test_redis_stream_gets_one_event_per_prediction(start_server: ServerFactory, redis_url: str, iris: Iris) -> None:
    stream = "test:predictions:basic"
    server = start_server(*_redis_sink(iris, redis_url, stream), "--model_version", "v3", "--role", "canary")
    for i in range(5):
        answer = httpx.post(server.predict_url, json={"instances": ROWS}, headers={"x-request-id": f"r-{i}"})
        assert answer.status_code == 200
    httpx.post(server.predict_url, json={"instances": []})  # refused requests are not predictions
    client = redis.Redis.from_url(redis_url)
    _eventually(lambda: client.xlen(stream) == 5)
    events = _events(client, stream)
    assert [event["request_id"] for event in events] == [f"r-{i}" for i in range(5)]
    event = events[0]
    assert {k: event[k] for k in ("model", "version", "role")} == {"model": "iris", "version": "v3", "role": "canary"}
    assert event["inputs"] == {"input-0": ROWS}
    assert event["outputs"] == {"predict": iris.estimator.predict(ROWS).tolist()}
    assert isinstance(event["latency_ms"], float)
    assert event["latency_ms"] > 0
    assert datetime.fromisoformat(str(event["timestamp"])).tzinfo is not None
    _eventually(lambda: _metric(server.url, 'mlpatterns_prediction_log_events_total{result="sent",sink="redis"}') == 5)


def test_dead_sink_drops_and_counts_but_every_request_succeeds(start_server: ServerFactory, iris: Iris) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    server = start_server(
        *_redis_sink(iris, nowhere),
        *("--prediction_log_buffer_bytes", "1024", "--prediction_log_flush_seconds", "1"),
        *("--prediction_log_spool", "false"),
    )
    for _ in range(20):
        assert httpx.post(server.predict_url, json={"instances": ROWS}).status_code == 200
    dropped = _metric(server.url, 'mlpatterns_prediction_log_events_total{result="dropped",sink="redis"}')
    assert dropped >= 15, "events of about 300 bytes: a 1 KiB buffer holds a few"
    held = 20 - dropped
    _eventually(lambda: _metric(server.url, 'mlpatterns_prediction_log_buffered_events{sink="redis"}') == held)
    errors = 'mlpatterns_prediction_log_events_total{result="error",sink="redis"}'
    _eventually(lambda: _metric(server.url, errors) == held)  # each failed event counted once, not per retry
    server.process.terminate_gracefully()
    assert f"prediction log: dropping {held:.0f} events the redis sink did not take" in server.process.logs()


def test_an_unreachable_sink_is_reported_once_and_its_return_too(
    start_server: ServerFactory, iris: Iris, tmp_path: Path
) -> None:
    stream, port = "test:predictions:later", free_port()
    # DEBUG shows each attempt, so the test can see several before it looks at the warnings.
    server = start_server(*_redis_sink(iris, f"redis://127.0.0.1:{port}/0", stream),
                          env={"MLPATTERNS_LOG_LEVEL": "DEBUG"})  # fmt: skip
    # Said at start, before any prediction: the sink is down and events wait in the spool.
    _eventually(lambda: "is unreachable" in server.process.logs())
    for i in range(5):
        httpx.post(server.predict_url, json={"instances": ROWS}, headers={"x-request-id": f"l-{i}"})
    _eventually(lambda: server.process.logs().count("redis sink failed for 5 events") >= 3)
    errors = 'mlpatterns_prediction_log_events_total{result="error",sink="redis"}'
    assert _metric(server.url, errors) == 5, "each event is counted once, not once per attempt"
    assert _metric(server.url, 'mlpatterns_prediction_log_buffered_events{sink="redis"}') == 5
    logs = server.process.logs()
    assert logs.count("is unreachable") == 1, "retries are not logged one by one"
    assert f"the redis sink (stream {stream} at redis://127.0.0.1:{port}/0) is unreachable" in logs
    assert "events are kept in the spool" in logs
    redis_process, url = start_redis(tmp_path, port)
    try:
        _eventually(lambda: "is reachable again" in server.process.logs())
        client = redis.Redis.from_url(url)
        _eventually(lambda: client.xlen(stream) == 5)
    finally:
        redis_process.stop()


def test_the_sink_is_named_without_its_credentials() -> None:
    sink = RedisStreamSink("redis://user:secret@redis.example:6380/2", "s", 10)
    assert sink.target == "stream s at redis://redis.example:6380/2"


@pytest.fixture
def paused_redis(tmp_path: Path) -> Iterator[str]:
    process, url = start_redis(tmp_path)
    yield url
    process.stop()


def test_sigterm_flushes_buffered_events(start_server: ServerFactory, paused_redis: str, iris: Iris) -> None:
    stream = "test:predictions:flush"
    server = start_server(*_redis_sink(iris, paused_redis, stream), "--prediction_log_flush_seconds", "30")
    client = redis.Redis.from_url(paused_redis)
    client.client_pause(120_000, all=False)  # writes stall until the test says so
    try:
        for i in range(20):
            httpx.post(server.predict_url, json={"instances": ROWS}, headers={"x-request-id": f"f-{i}"})
        _eventually(lambda: _metric(server.url, 'mlpatterns_prediction_log_buffered_events{sink="redis"}') == 20)
        assert client.xlen(stream) == 0
        server.process.signal(signal.SIGTERM)
        _eventually(lambda: "Waiting for application shutdown" in server.process.logs())
    finally:
        client.client_unpause()  # the shutdown flush now gets through
    assert server.process.wait_exit(timeout=60) in (0, -signal.SIGTERM)
    assert sorted(str(event["request_id"]) for event in _events(client, stream)) == sorted(f"f-{i}" for i in range(20))


def test_sigterm_with_the_sink_down_keeps_the_events_for_the_next_start(
    start_server: ServerFactory, redis_url: str, iris: Iris, tmp_path: Path
) -> None:
    stream = "test:predictions:later-start"
    spool = {"MLPATTERNS_PREDICTION_LOG_SPOOL_DIR": str(tmp_path / "spool")}
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    first = start_server(*_redis_sink(iris, nowhere, stream), "--prediction_log_flush_seconds", "1", env=spool)
    for i in range(10):
        httpx.post(first.predict_url, json={"instances": ROWS}, headers={"x-request-id": f"s-{i}"})
    first.process.terminate_gracefully()
    assert "prediction log: 10 events the redis sink did not take stay in" in first.process.logs()

    second = start_server(*_redis_sink(iris, redis_url, stream), env=spool)
    client = redis.Redis.from_url(redis_url)
    _eventually(lambda: client.xlen(stream) == 10)
    assert [str(event["request_id"]) for event in _events(client, stream)] == [f"s-{i}" for i in range(10)]
    second.process.terminate_gracefully()


def _workers(pid: int) -> list[int]:
    """uvicorn's worker processes under the server's parent process."""
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        found = [int(child) for child in children.read().split()]
    return [child for child in found if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def test_a_killed_worker_s_events_arrive_through_its_replacement(
    start_server: ServerFactory, paused_redis: str, iris: Iris, tmp_path: Path
) -> None:
    """--workers 2: SIGKILL one worker while its events wait for a stalled sink; uvicorn starts a
    replacement, which takes over the dead worker's spool and sends them."""
    stream = "test:predictions:worker"
    client = redis.Redis.from_url(paused_redis)
    spool = tmp_path / "spool"
    server = start_server(*_redis_sink(iris, paused_redis, stream), "--workers", "2",
                          env={"MLPATTERNS_PREDICTION_LOG_SPOOL_DIR": str(spool)})  # fmt: skip
    _eventually(lambda: len(_workers(server.process.pid)) == 2)
    client.client_pause(120_000, all=False)
    try:
        for i in range(40):  # a new connection each time: the kernel spreads them over both workers
            httpx.post(server.predict_url, json={"instances": ROWS}, headers={"x-request-id": f"w-{i}"})
        _eventually(lambda: _metric(server.url, 'mlpatterns_prediction_log_buffered_events{sink="redis"}') == 40)
        # The victim: a worker whose spool file holds events (named events-<pid>-...).
        holding = {int(path.name.split("-")[1]) for path in spool.rglob("events-*.jsonl") if path.stat().st_size}
        victim = next(pid for pid in _workers(server.process.pid) if pid in holding)
        os.kill(victim, signal.SIGKILL)
        _eventually(lambda: len(_workers(server.process.pid)) == 2 and victim not in _workers(server.process.pid))
        _eventually(lambda: "recovered" in server.process.logs())
    finally:
        client.client_unpause()
    _eventually(lambda: client.xlen(stream) >= 40)
    assert sorted({str(event["request_id"]) for event in _events(client, stream)}) == sorted(
        f"w-{i}" for i in range(40)
    )


def test_events_of_a_crashed_worker_are_sent_by_the_next_one(
    start_server: ServerFactory, redis_url: str, iris: Iris, tmp_path: Path
) -> None:
    stream = "test:predictions:crash"
    spool = {"MLPATTERNS_PREDICTION_LOG_SPOOL_DIR": str(tmp_path / "spool")}
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    crashing = start_server(*_redis_sink(iris, nowhere, stream), env=spool)
    for i in range(12):
        httpx.post(crashing.predict_url, json={"instances": ROWS}, headers={"x-request-id": f"k-{i}"})
    crashing.process.signal(signal.SIGKILL)  # no shutdown, no flush
    crashing.process.wait_exit()

    successor = start_server(*_redis_sink(iris, redis_url, stream), env=spool)
    httpx.post(successor.predict_url, json={"instances": ROWS}, headers={"x-request-id": "after"})
    client = redis.Redis.from_url(redis_url)
    _eventually(lambda: client.xlen(stream) == 13)
    assert [str(event["request_id"]) for event in _events(client, stream)] == [f"k-{i}" for i in range(12)] + ["after"]
    assert "recovered 12 unsent events" in successor.process.logs()
    successor.process.terminate_gracefully()
    assert list((tmp_path / "spool").rglob("*.jsonl")) == [], "a clean stop leaves no spool behind"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


def test_cloudevents_in_kserve_logger_format(start_server: ServerFactory, receiver: HttpReceiver, iris: Iris) -> None:
    server = start_server(
        "--model_dir",
        str(iris.joblib_dir),
        "--model_version",
        "v9",
        "--prediction_log_sink",
        "http",
        "--prediction_log_http_url",
        receiver.url,
        "--namespace",
        "team-a",
    )
    httpx.post(server.predict_url, json={"instances": ROWS}, headers={"x-request-id": "ce-1"})
    _eventually(lambda: len(receiver.received) == 1)
    (event,) = receiver.received
    assert event.headers["ce-specversion"] == "1.0"
    assert event.headers["ce-id"] == "ce-1"
    assert event.headers["ce-type"] == "org.kubeflow.serving.inference.response"
    assert event.headers["ce-inferenceservicename"] == "iris"
    assert event.headers["ce-namespace"] == "team-a"
    assert event.headers["ce-endpoint"] == "primary"
    assert event.headers["content-type"] == "application/json"
    data = json.loads(event.body)
    assert (data["request_id"], data["version"], data["outputs"]) == (
        "ce-1",
        "v9",
        {"predict": iris.estimator.predict(ROWS).tolist()},
    )


def test_stdout_sink_writes_json_lines(start_server: ServerFactory, iris: Iris) -> None:
    server = start_server("--model_dir", str(iris.joblib_dir), "--prediction_log_sink", "stdout")
    httpx.post(server.predict_url, json={"instances": ROWS}, headers={"x-request-id": "out-1"})

    def logged() -> bool:
        return any(line.startswith("{") and '"out-1"' in line for line in server.process.logs().splitlines())

    _eventually(logged)
    line = next(line for line in server.process.logs().splitlines() if '"out-1"' in line)
    assert json.loads(line)["outputs"] == {"predict": iris.estimator.predict(ROWS).tolist()}


def test_an_unwritable_spool_directory_is_one_line_at_start(start_server: ServerFactory, iris: Iris) -> None:
    server = start_server(*_redis_sink(iris, "redis://127.0.0.1:1/0"), "--prediction_log_spool_dir",
                          "/etc/hostname/spool", wait=False)  # fmt: skip
    assert server.process.wait_exit(timeout=60) == 2
    logs = server.process.logs()
    assert (
        "mlpatterns-server: the prediction-log spool directory /etc/hostname/spool/iris-primary is not writable" in logs
    )
    assert "Traceback" not in logs


def test_servers_on_one_host_do_not_share_a_spool_by_default() -> None:
    first = ServerSettings.model_validate({"model_dir": "m", "model_name": "iris", "http_port": 8080})
    second = first.model_copy(update={"http_port": 8081})
    assert first.spool_directory != second.spool_directory
    assert first.spool_directory.name == "mlpatterns-spool-iris-primary-8080"
