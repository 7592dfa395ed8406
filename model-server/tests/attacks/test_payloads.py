"""Attacks in the request body, each against a real server process: nesting too deep to parse,
more dimensions than NumPy holds, booleans posing as numbers, flags and ids of the wrong type, a
bad value at the end of 10 MB, and large bodies held for a sink that is down. Each is a 400 that
names the problem (never a 500 or a traceback), and the next good request is served."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.model_server import Iris, Server, ServerFactory
from tests.support.processes import free_port
from tests.support.raw_http import rss_mb

ROW = [5.1, 3.5, 1.4, 0.2]


def tensor(data: Any, datatype: str = "FP32", shape: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": "x", "shape": shape or [1, 4], "datatype": datatype, "data": data, **extra}


CASES = [
    ("deep-json", "v1", b'{"instances": ' + b"[" * 1000 + b"1" + b"]" * 1000 + b"}",
     "instances is nested more than 32 lists deep"),
    ("deeper-than-the-parser", "v1", b'{"instances": ' + b"[" * 5000 + b"1" + b"]" * 5000 + b"}",
     "request body is nested too deeply to read"),
    ("deep-in-a-ragged-branch", "v1", b'{"instances": [[1], ' + b"[" * 100 + b"1" + b"]" * 100 + b"]}",
     "instances is nested more than 32 lists deep"),
    ("too-many-dimensions", "v2", json.dumps({"inputs": [tensor([1.0], shape=[1] * 70)]}).encode(),
     "inputs[0] ('x').shape has 70 dimensions; at most 32 are accepted"),
    ("boolean-in-v1-row", "v1", b'{"instances": [[5.1, true, 1.4, 0.2]]}',
     "instances[0][1] is the boolean true; expected a number"),
    ("all-booleans-v1", "v1", b'{"instances": [[true, false, true, true]]}',
     "instances[0][0] is the boolean true; model 'iris' expects numbers (FP64)"),
    ("boolean-in-v2-fp32", "v2", json.dumps({"inputs": [tensor([5.1, True, 1.4, 0.2])]}).encode(),
     "inputs[0] ('x').data[1] is the boolean true; expected a number"),
    ("string-false-flag", "v2",
     json.dumps({"inputs": [tensor(ROW)], "parameters": {"binary_data_output": "false"}}).encode(),
     "parameters.binary_data_output must be true or false, not the string 'false'"),
    ("object-id", "v2", json.dumps({"id": {"a": 1}, "inputs": [tensor(ROW)]}).encode(),
     "'id' must be a string, not an object"),
]  # fmt: skip


@pytest.fixture(scope="module")
def server(iris: Iris, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    factory = ServerFactory(tmp_path_factory.mktemp("payloads"))
    yield factory("--model_dir", str(iris.joblib_dir))
    factory.close()


def post(server: Server, protocol: str, body: bytes, **headers: str) -> httpx.Response:
    url = server.predict_url if protocol == "v1" else server.infer_url
    return httpx.post(url, content=body, headers=headers, timeout=60)


@pytest.mark.parametrize(("protocol", "body", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_hostile_body_is_a_named_400(server: Server, protocol: str, body: bytes, message: str) -> None:
    answer = post(server, protocol, body)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]
    assert post(server, "v1", json.dumps({"instances": [ROW]}).encode()).status_code == 200
    assert "Traceback" not in server.process.logs()


def test_binary_bool_bytes_other_than_0_and_1_are_refused(server: Server) -> None:
    header = json.dumps({"inputs": [{"name": "x", "shape": [4], "datatype": "BOOL",
                                     "parameters": {"binary_data_size": 4}}]}).encode()  # fmt: skip
    answer = post(server, "v2", header + b"\x01\x00\x02\xff", **{"Inference-Header-Content-Length": str(len(header))})
    assert answer.status_code == 400
    assert answer.json()["error"] == (
        "inputs[0] ('x') binary BOOL data holds byte 2 at [2]; a BOOL is one byte, 0 or 1"
    )


def test_the_binary_output_flag_false_means_false(server: Server) -> None:
    body = json.dumps({"inputs": [tensor(ROW)], "parameters": {"binary_data_output": False}}).encode()
    answer = post(server, "v2", body)
    assert answer.status_code == 200
    assert "data" in answer.json()["outputs"][0]


def test_a_bad_value_at_the_end_of_10_mb_is_found_and_named(server: Server) -> None:
    rows = json.dumps({"instances": [ROW] * 450_000}).encode()
    bad = rows[: -len(b"0.2]]}")] + b"NaN]]}"
    answer = post(server, "v1", bad)
    assert answer.status_code == 400
    assert answer.json() == {"error": "instances[449999][3] is NaN; only finite numbers are accepted"}
    good = post(server, "v1", rows)
    assert good.status_code == 200
    assert len(good.json()["predictions"]) == 450_000


def _helpers(pid: int) -> list[int]:
    """The server's decoding helpers: its spawned pool workers (not multiprocessing's resource tracker)."""
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        found = [int(child) for child in children.read().split()]
    return [child for child in found if b"spawn_main" in open(f"/proc/{child}/cmdline", "rb").read()]


def test_large_bodies_are_decoded_in_a_helper_that_is_replaced_if_it_dies(server: Server) -> None:
    rows = json.dumps({"instances": [ROW] * 50_000}).encode()  # above the 512 KiB threshold
    assert post(server, "v1", rows).status_code == 200
    helpers = _helpers(server.process.pid)
    assert len(helpers) == 1, "one helper process decodes the large bodies"
    os.kill(helpers[0], signal.SIGKILL)
    answer = post(server, "v1", rows)  # decoded all the same, by the server, while a new helper starts
    assert answer.status_code == 200
    assert len(answer.json()["predictions"]) == 50_000
    assert "the decoding helper process died; starting a new one" in server.process.logs()
    assert post(server, "v1", rows).status_code == 200
    assert len(_helpers(server.process.pid)) == 1, "the next large body has a helper again"


def test_large_predictions_held_for_a_dead_sink_stay_within_the_cap(
    start_server: ServerFactory, iris: Iris, tmp_path: Any
) -> None:
    spool_root = tmp_path / "spool"
    server = start_server(
        "--model_dir", str(iris.joblib_dir), "--prediction_log_sink", "redis",
        "--prediction_log_redis_url", f"redis://127.0.0.1:{free_port()}/0", "--prediction_log_buffer_bytes",
        str(8 * 1024 * 1024), "--prediction_log_spool_dir", str(spool_root),
    )  # fmt: skip
    before = rss_mb(server.process.pid)
    rows = json.dumps({"instances": [ROW] * 100_000}).encode()  # events of more than 1.5 MB each
    for _ in range(10):
        assert post(server, "v1", rows).status_code == 200

    def sample(prefix: str) -> float:
        metrics = httpx.get(f"{server.url}/metrics").text
        return float(next(line for line in metrics.splitlines() if line.startswith(prefix)).rsplit(" ", 1)[1])

    dropped = sample('mlpatterns_prediction_log_events_total{result="dropped"')
    assert dropped >= 5, "beyond 8 MB, new events are dropped and counted"
    deadline = time.monotonic() + 15  # the gauge is refreshed at each attempt (every 5 s at most)
    while sample("mlpatterns_prediction_log_buffered_events") != 10 - dropped:
        assert time.monotonic() < deadline, "the held events should show in the buffered gauge"
        time.sleep(0.2)
    spooled = sum(path.stat().st_size for path in spool_root.rglob("*.jsonl"))
    assert spooled <= 8 * 1024 * 1024
    assert rss_mb(server.process.pid) - before < 250


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_the_helper_does_not_outlive_the_server(start_server: ServerFactory, iris: Iris, stop: int) -> None:
    server = start_server("--model_dir", str(iris.joblib_dir))
    assert _helpers(server.process.pid) == [], "the helper starts with the first large request"
    assert post(server, "v1", json.dumps({"instances": [ROW] * 50_000}).encode()).status_code == 200
    (helper,) = _helpers(server.process.pid)
    server.process.signal(stop)
    server.process.wait_exit(timeout=60)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{helper}").exists() and b"spawn_main" in Path(f"/proc/{helper}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the helper outlived the server"
        time.sleep(0.05)
