"""The prediction log end to end, with real processes: our server's events (http sink) and KServe
logger CloudEvents (request and response, joined by id) go through the collector into a real
redis-server and land as Parquet. A collector SIGKILLed and restarted twice during traffic (its
receiver and its lander) loses nothing acknowledged and lands every event exactly once."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.dataset as ds
import pytest

from tests.support.metrics import sample
from tests.support.model_server import Iris, ServerFactory
from tests.support.processes import ManagedProcess, free_port

REQUEST = "org.kubeflow.serving.inference.request"
RESPONSE = "org.kubeflow.serving.inference.response"


class Collectors:
    """Starts the collector on one port, again and again, and stops what is left at the end."""

    def __init__(self, workdir: Path, own_redis_url: str, output: Path) -> None:
        self.workdir, self.own_redis_url, self.output = workdir, own_redis_url, output
        self.port = free_port()
        self.started: list[ManagedProcess] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def metrics(self) -> str:
        return f"{self.url}metrics"

    def start(self, *extra: str) -> ManagedProcess:
        command = [sys.executable, "-m", "mlpatterns_server", "collector", "--redis_url", self.own_redis_url,
                   "--output", str(self.output), "--http_port", str(self.port), "--host", "127.0.0.1",
                   "--max_file_rows", "25", "--max_file_age_seconds", "0.3", *extra]  # fmt: skip
        process = ManagedProcess(command, self.workdir / f"collector-{len(self.started)}.log")
        self.started.append(process)
        process.wait_http(f"http://127.0.0.1:{self.port}/v2/health/ready")
        return process

    def close(self) -> None:
        for process in self.started:
            process.stop()


@pytest.fixture
def collectors(tmp_path: Path, own_redis_url: str) -> Iterator[Collectors]:
    started = Collectors(tmp_path, own_redis_url, tmp_path / "landed")
    yield started
    started.close()


def kserve_pair(url: str, request_id: str, retry: bool = False, halves: tuple[str, ...] = (REQUEST, RESPONSE)) -> None:
    """What KServe's logger sends for one prediction of an InferenceService 'iris'."""
    common = {"ce-specversion": "1.0", "ce-id": request_id, "ce-source": "http://localhost:9081/",
              "ce-inferenceservicename": "iris", "ce-namespace": "shop", "ce-component": "predictor",
              "ce-endpoint": "default", "ce-time": "2026-11-25T10:00:00Z",
              "content-type": "application/json"}  # fmt: skip
    bodies = {REQUEST: b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}', RESPONSE: b'{"predictions": [0]}'}
    for kind in halves:
        body = bodies[kind]
        for _ in range(2 if retry else 1):
            answer = httpx.post(url, content=body, headers={**common, "ce-type": kind})
            assert answer.status_code == 202, answer.text


def landed(output: Path) -> list[dict[str, object]]:
    if not output.exists():
        return []
    rows: list[dict[str, object]] = ds.dataset(output, format="parquet", partitioning="hive").to_table().to_pylist()
    return rows


def wait_for(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.1)


def test_every_event_lands_once_through_collector_and_lander_restarts(
    collectors: Collectors, start_server: ServerFactory, iris: Iris
) -> None:
    collector = collectors.start()
    server = start_server("--model_dir", str(iris.joblib_dir), "--model_version", "5", "--prediction_log_sink", "http",
                          "--prediction_log_http_url", collectors.url)  # fmt: skip
    ours: list[str] = []
    theirs: list[str] = []

    def traffic(count: int) -> None:
        for _ in range(count):
            request_id = f"ours-{len(ours)}"
            answer = httpx.post(server.predict_url, json={"instances": [iris.features[0].tolist()]},
                                headers={"x-request-id": request_id})  # fmt: skip
            assert answer.status_code == 200
            ours.append(request_id)

    def kserve(count: int) -> None:
        for _ in range(count):
            request_id = f"kserve-{len(theirs)}"
            kserve_pair(collectors.url, request_id, retry=len(theirs) % 5 == 0)  # a logger's retries too
            theirs.append(request_id)

    traffic(30)
    kserve(20)
    wait_for(lambda: len(landed(collectors.output)) > 10)
    collector.signal(signal.SIGKILL)  # receiver and lander gone mid-run
    collector.wait_exit()
    traffic(20)  # the server's events wait in its spool meanwhile
    collector = collectors.start()
    kserve(20)
    collector.signal(signal.SIGKILL)
    collector.wait_exit()
    collectors.start()
    traffic(10)
    kserve(10)

    expected = set(ours) | set(theirs)
    wait_for(lambda: {row["request_id"] for row in landed(collectors.output)} >= expected, timeout=90)
    time.sleep(1)  # two file ages: a duplicate written late would show now
    rows = landed(collectors.output)
    ids = [row["request_id"] for row in rows]
    assert len(ids) == len(set(ids)) == len(expected)
    ours_row = next(row for row in rows if row["request_id"] == "ours-0")
    assert (ours_row["model"], ours_row["version"], ours_row["role"], ours_row["source"]) == ("iris", "5", "primary",
                                                                                               "server")  # fmt: skip
    assert '"predict"' in str(ours_row["outputs"])
    kserve_row = next(row for row in rows if row["request_id"] == "kserve-0")
    assert kserve_row["inputs"] == '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
    assert kserve_row["outputs"] == '{"predictions": [0]}'
    assert str(kserve_row["date"]) == "2026-11-25"


def test_what_is_not_a_cloudevent_is_refused_with_a_reason(collectors: Collectors) -> None:
    collectors.start()
    plain = httpx.post(collectors.url, json={"instances": [[1, 2, 3, 4]]})
    assert plain.status_code == 400
    assert "not a CloudEvent" in plain.json()["error"]
    no_id = httpx.post(collectors.url, content=b"{}", headers={"ce-type": RESPONSE, "ce-specversion": "1.0"})
    assert no_id.status_code == 400
    assert "no id" in no_id.json()["error"]
    wrong = httpx.post(collectors.url, content=b"{}", headers={"ce-type": "com.example.other", "ce-id": "1"})
    assert wrong.status_code == 400


def test_an_event_is_traced_from_held_to_landed_and_a_flush_lands_it_at_once(collectors: Collectors) -> None:
    collectors.start("--max_file_age_seconds", "3600")  # nothing lands unless flushed
    kserve_pair(collectors.url, "traced-1", halves=(REQUEST,))
    state = httpx.get(f"{collectors.url}v1/events/traced-1")
    assert state.json() == {"id": "traced-1", "components": {"iris/predictor": {"state": "held"}}}
    kserve_pair(collectors.url, "traced-1", halves=(RESPONSE,))
    assert httpx.get(f"{collectors.url}v1/events/traced-1").json()["components"]["iris/predictor"] == {
        "state": "appended"
    }
    wait_for(lambda: sample(collectors.metrics, "mlpatterns_collector_unlanded_events") == 1)
    assert not landed(collectors.output)

    flushed = httpx.post(f"{collectors.url}v1/flush")
    assert flushed.json() == {"landed": 1}
    component = httpx.get(f"{collectors.url}v1/events/traced-1").json()["components"]["iris/predictor"]
    assert component["state"] == "landed"
    assert Path(component["file"]).exists()
    assert [row["request_id"] for row in landed(collectors.output)] == ["traced-1"]
    kserve_pair(collectors.url, "traced-1", halves=(RESPONSE,))  # a logger's late retry
    assert sample(collectors.metrics, "mlpatterns_collector_events_total", source="kserve", result="duplicate") == 1
    assert sample(collectors.metrics, "mlpatterns_collector_events_total", source="kserve", result="held") == 1
    assert sample(collectors.metrics, "mlpatterns_collector_events_total", source="kserve", result="appended") == 1
    assert sample(collectors.metrics, "mlpatterns_collector_landed_events_total", model="iris") == 1
    assert sample(collectors.metrics, "mlpatterns_collector_landed_files_total") == 1
    assert sample(collectors.metrics, "mlpatterns_collector_unlanded_events") == 0
    unknown = httpx.get(f"{collectors.url}v1/events/never-sent")
    assert unknown.status_code == 404
    assert "never-sent" in unknown.json()["error"]


def test_loggers_that_send_one_half_land_each_event_alone(collectors: Collectors) -> None:
    collectors.start("--logger_mode", "request")
    for number in range(3):
        kserve_pair(collectors.url, f"alone-{number}", halves=(REQUEST,))
    wait_for(lambda: len(landed(collectors.output)) == 3)
    rows = landed(collectors.output)
    assert {row["inputs"] for row in rows} == {'{"instances": [[5.1, 3.5, 1.4, 0.2]]}'}
    assert {row["outputs"] for row in rows} == {""}


def test_an_event_over_the_size_limit_is_refused_before_it_is_read(collectors: Collectors) -> None:
    collectors.start("--max_body_bytes", "2048")
    headers = {"ce-type": RESPONSE, "ce-id": "big", "ce-specversion": "1.0"}
    answer = httpx.post(collectors.url, content=b"x" * 4096, headers=headers)
    assert answer.status_code == 413
    assert "2048" in answer.json()["error"]
    assert sample(collectors.metrics, "mlpatterns_collector_events_total", source="unknown", result="rejected") == 1
