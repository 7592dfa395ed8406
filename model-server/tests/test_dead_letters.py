"""One event never stops a reader of the prediction-log stream: the event schema in-process (what
the server writes passes, what broke the readers names its field), then the comparison and the
lander as real processes on a real redis-server, fed the exact entries that stopped them before,
with valid events around them, before and after a restart; and the dead letters re-driven."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
import redis

from mlpatterns_server.predlog.event import PredictionEvent
from mlpatterns_server.predlog.schema import InvalidEvent, parse
from mlpatterns_server.worker_task import WorkerTask
from tests.support.metrics import sample
from tests.support.processes import ManagedProcess, free_port

STREAM = "mlpatterns:predictions"


def event(request_id: str, role: str = "primary", model: str = "iris", **changes: Any) -> dict[str, Any]:
    document = {"request_id": request_id, "model": model, "version": "1" if role == "primary" else "2",
                "role": role, "inputs": {"input-0": [[5.1, 3.5, 1.4, 0.2]]}, "outputs": {"predict": [0]},
                "latency_ms": 1.5, "timestamp": "2026-12-08T10:00:00.000000+00:00"}  # fmt: skip
    return {**document, **changes}


# What stopped the readers (issue 24, items 1 and 2), and the reason each is refused for.
POISON = {
    "outputs-a-number": (event("p1", outputs=2), "wrong_type", "outputs is 2"),
    "outputs-a-list": (event("p2", outputs=[0]), "wrong_type", "outputs is [0]"),
    "latency-text": (event("p3", latency_ms="fast"), "wrong_type", 'latency_ms is "fast"'),
    "timestamp-object": (event("p4", timestamp={"at": 1}), "wrong_type", "timestamp is"),
}


def test_what_the_server_writes_is_a_valid_event() -> None:
    written = PredictionEvent("r", "iris", "1", "primary", {"x": np.ones((1, 4))}, {"predict": np.array([0])}, 1.25,
                              time.time())  # fmt: skip
    assert parse(written.to_json())["outputs"] == {"predict": [0]}


@pytest.mark.parametrize(
    ("raw", "reason", "names"),
    [
        *((json.dumps(document).encode(), reason, names) for document, reason, names in POISON.values()),
        (b"{nope", "not_json", "not JSON"),
        (b"[1, 2]", "not_an_object", "a JSON list"),
        (json.dumps({k: v for k, v in event("r").items() if k != "role"}).encode(), "missing_field", "no role"),
        (json.dumps(event("r", timestamp="2026-12-08T10:00:00")).encode(), "wrong_type", "no time zone"),
        (json.dumps(event("", model="iris")).encode(), "wrong_type", "request_id is empty"),
    ],
)
def test_an_invalid_event_is_refused_with_its_reason_and_field(raw: bytes, reason: str, names: str) -> None:
    with pytest.raises(InvalidEvent) as refused:
        parse(raw)
    assert refused.value.reason == reason
    assert names in str(refused.value)


def test_a_worker_task_that_dies_ends_readiness_then_liveness() -> None:
    async def dies() -> None:
        raise RuntimeError("entry 1-0 broke it")

    async def scenario() -> WorkerTask:
        worker = WorkerTask("lander", grace_seconds=0.2)
        running = worker.start(dies())
        await asyncio.wait([running])
        return worker

    worker = asyncio.run(scenario())
    assert worker.problem() == "the lander task died: RuntimeError: entry 1-0 broke it"
    time.sleep(0.25)
    assert worker.past_grace()


def client_of(url: str) -> Any:
    """Typed loosely: redis-py's stubs type stream replies as one union for every command."""
    return redis.Redis.from_url(url)


def dead_letters(url: str) -> list[dict[bytes, bytes]]:
    client = client_of(url)
    return [fields for _, fields in client.xrange(f"{STREAM}:dead")]


def append(url: str, *documents: dict[str, Any]) -> None:
    client = client_of(url)
    for document in documents:
        client.xadd(STREAM, {"event": json.dumps(document)})


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.2)


@pytest.fixture
def start(tmp_path: Path, own_redis_url: str) -> Iterator[Callable[..., tuple[str, ManagedProcess]]]:
    """Starts `mlpatterns-server <command>` on a port of its own; stops them all at the end."""
    started: list[ManagedProcess] = []

    def run(command: str, *extra: str) -> tuple[str, ManagedProcess]:
        port = free_port()
        process = ManagedProcess(
            [sys.executable, "-m", "mlpatterns_server", command, "--redis_url", own_redis_url, "--http_port",
             str(port), "--host", "127.0.0.1", *extra], tmp_path / f"{command}-{len(started)}.log",
        )  # fmt: skip
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        process.wait_http(f"{url}/v2/health/ready")
        return url, process

    yield run
    for process in started:
        process.stop()


def test_poison_events_are_dead_letters_and_the_comparison_goes_on_through_a_restart(
    own_redis_url: str, start: Callable[..., tuple[str, ManagedProcess]]
) -> None:
    url, first = start("compare", "--window_seconds", "30")
    for index in range(3):
        append(own_redis_url, event(f"before-{index}"), event(f"before-{index}", role="shadow"))
    append(own_redis_url, *(document for document, _, _ in POISON.values()))
    append(own_redis_url, event("after"), event("after", role="shadow", outputs={"predict": [1]}))

    def compared() -> float:
        return sum(
            sample(f"{url}/metrics", "mlpatterns_shadow_comparisons_total", result=r) for r in ("agree", "disagree")
        )

    wait_for(lambda: compared() == 4)
    assert sample(f"{url}/metrics", "mlpatterns_dead_letters_total", consumer="compare", reason="wrong_type") == 4
    letters = dead_letters(own_redis_url)
    assert sorted(json.loads(letter[b"event"])["request_id"] for letter in letters) == ["p1", "p2", "p3", "p4"]
    assert {letter[b"dead_consumer"] for letter in letters} == {b"compare"}
    assert all(letter[b"dead_reason"] == b"wrong_type" for letter in letters)
    assert httpx.get(f"{url}/v2/health/ready").status_code == 200
    pending = client_of(own_redis_url).xpending(STREAM, "compare")["pending"]
    assert pending == 0, "every entry, the poison too, is acknowledged"

    first.stop()
    append(own_redis_url, *(document for document, _, _ in POISON.values()))  # while it is down
    url, _ = start("compare", "--window_seconds", "30")
    append(own_redis_url, event("restarted"), event("restarted", role="shadow"))
    wait_for(lambda: compared() == 1)
    assert len(dead_letters(own_redis_url)) == 8


def test_poison_events_do_not_stop_landing_and_are_redriven_after_a_fix(
    tmp_path: Path, own_redis_url: str, start: Callable[..., tuple[str, ManagedProcess]]
) -> None:
    output = tmp_path / "landed"
    collector = ("--output", str(output), "--max_file_rows", "100", "--max_file_age_seconds", "0.3")
    url, first = start("collector", *collector)
    refused = httpx.post(url, json=event("at-the-door", latency_ms="fast"),
                         headers={"ce-id": "d", "ce-type": "org.kubeflow.serving.inference.request",
                                  "ce-specversion": "1.0", "ce-source": "test"})  # fmt: skip
    assert refused.status_code == 400
    assert 'latency_ms is "fast", not a number' in refused.json()["error"]
    # A foreign writer (an older collector, a script) puts entries in the stream the lander must
    # survive: the poison events, and a KServe entry whose id Parquet refuses as a string.
    append(
        own_redis_url,
        event("good-iris"),
        *(document for document, _, _ in POISON.values()),
        event("good-wine", model="wine"),
    )
    client_of(own_redis_url).xadd(STREAM, {"request": b"{}", "response": b"{}", "meta": json.dumps(
        {"id": 7, "received": time.time(), "inferenceservicename": "iris"})})  # fmt: skip
    flushed = httpx.post(f"{url}/v1/flush")
    assert flushed.status_code == 200

    def landed() -> set[str]:
        files = output.rglob("part-*.parquet")
        return {str(found) for file in files for found in pq.read_table(file).column("request_id").to_pylist()}

    wait_for(lambda: landed() == {"good-iris", "good-wine"})
    wait_for(lambda: len(dead_letters(own_redis_url)) == 5)
    letters = dead_letters(own_redis_url)
    assert sorted(letter[b"dead_reason"].decode() for letter in letters) == ["unwritable", *["wrong_type"] * 4]
    assert sample(f"{url}/metrics", "mlpatterns_dead_letters_total", consumer="lander", reason="unwritable") == 1
    assert httpx.get(f"{url}/v2/health/ready").status_code == 200

    # After a restart, more good events land and nothing is dead-lettered twice.
    first.stop()
    url, _ = start("collector", *collector)
    append(own_redis_url, event("good-after-restart"))
    wait_for(lambda: "good-after-restart" in landed())
    assert len(dead_letters(own_redis_url)) == 5

    listed = ManagedProcess([sys.executable, "-m", "mlpatterns_server", "deadletters", "--redis_url", own_redis_url,
                             "--consumer", "lander", "--reason", "wrong_type", "--output", "json"],
                            tmp_path / "list.log")  # fmt: skip
    assert listed.wait_exit(60) == 0
    rows = json.loads(listed.logs()[listed.logs().index("[") :])
    assert [row["reason"] for row in rows] == ["wrong_type"] * 4

    # "The fix": a newer lander that takes what is now refused is not something a test can ship, so
    # the re-drive is shown on entries that are valid: the dead letters of a reader that was wrong.
    client = client_of(own_redis_url)
    for letter_id, _ in client.xrange(f"{STREAM}:dead"):
        client.xdel(f"{STREAM}:dead", letter_id)
    client.xadd(f"{STREAM}:dead", {"event": json.dumps(event("wrongly-refused")), "dead_reason": "wrong_type",
                                   "dead_consumer": "lander", "dead_entry": "1-0"})  # fmt: skip
    client.xadd(f"{STREAM}:dead", {"event": json.dumps(event("wrongly-refused")), "dead_reason": "wrong_type",
                                   "dead_consumer": "compare", "dead_entry": "1-0"})  # fmt: skip
    redriven = ManagedProcess([sys.executable, "-m", "mlpatterns_server", "deadletters", "--redis_url", own_redis_url,
                               "--redrive", "true"], tmp_path / "redrive.log")  # fmt: skip
    assert redriven.wait_exit(60) == 0
    assert "re-drove 1 entries" in redriven.logs()
    wait_for(lambda: "wrongly-refused" in landed())
    assert dead_letters(own_redis_url) == []
