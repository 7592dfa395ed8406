"""`mlpatterns load`: open loop (requests leave on schedule however slow the answers), a user-id
header per simulated user, rows from a file or the bundled dataset, clear errors for what cannot be
sent. Against a real HTTP server on loopback that answers slowly and says which variant it is."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlpatterns.cli import main
from mlpatterns.traffic import rows
from mlpatterns.traffic.load import Plan, run
from mlpatterns.traffic.target import NoTarget, resolve

SLOW_SECONDS = 0.3


class Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        Recorder.seen.append({"user": self.headers.get("x-user-id"), "row": body["instances"][0]})
        time.sleep(SLOW_SECONDS)
        failing = body["instances"][0][0] < 0
        payload = json.dumps({"error": "negative"} if failing else {"predictions": [0]}).encode()
        self.send_response(400 if failing else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("x-mlpatterns-role", "canary" if len(Recorder.seen) % 2 else "primary")
        self.send_header("x-mlpatterns-model-version", "2")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_requests_leave_on_schedule_however_slow_the_answers(server: str) -> None:
    target = resolve(server, "iris")
    assert target.url == f"{server}/v1/models/iris:predict"
    started = time.perf_counter()
    tally = asyncio.run(run(target, [[1.0, 2.0], [3.0, 4.0], [-1.0, 0.0]], Plan(rps=30, seconds=1, users=4)))
    elapsed = time.perf_counter() - started
    # A closed loop on one connection would have sent 1 / 0.3 s = 3; ours sends all 30 in a second.
    assert tally.sent == 30
    assert elapsed < 1 + SLOW_SECONDS + 2
    summary = tally.summary()
    assert summary["ok"] == 20
    assert summary["codes"] == {"200": 20, "400": 10}
    assert summary["error_messages"] == {"400: negative": 10}
    assert sorted(v["role"] for v in summary["variants"]) == ["canary", "primary"]
    assert sum(v["requests"] for v in summary["variants"]) == 30
    assert {request["user"] for request in Recorder.seen} == {f"user-{i}" for i in range(4)}


def test_rows_come_from_a_file_or_the_bundled_dataset(tmp_path: Path) -> None:
    csv = tmp_path / "rows.csv"
    csv.write_text("a,b\n1,2\n3.5,4\n")
    assert sorted(rows.from_file(csv)) == [[1.0, 2.0], [3.5, 4.0]]
    lines = tmp_path / "rows.jsonl"
    lines.write_text("[1, 2]\n[3, 4]\n")
    assert rows.from_file(lines) == [[1, 2], [3, 4]]
    iris, source = rows.choose(None, None, "iris", seed=1)
    assert len(iris) == 150
    assert len(iris[0]) == 4
    assert "iris" in source
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,oops\n")
    with pytest.raises(rows.NoRows, match=r"bad\.csv: cannot read rows"):
        rows.from_file(bad)


def test_a_pattern_that_is_not_running_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPATTERNS_HOME", str(tmp_path))
    with pytest.raises(NoTarget, match=r"shadow-ab is not running: start it with `mlpatterns up shadow-ab`"):
        resolve("shadow-ab", None)
    assert resolve("http://h:1/v1/jobs", None).jobs


def test_the_commands_refuse_what_cannot_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("MLPATTERNS_HOME", str(tmp_path))
    assert main(["load", "online-ab", "--duration", "1"]) == 1
    assert main(["load", "http://127.0.0.1:9", "-H", "no-colon"]) == 2
    assert main(["watch", "--once"]) == 2
    assert main(["report"]) == 2
    assert main(["load", "online-ab", "--rps", "0"]) == 2
    assert main(["load", "online-ab", "--users", "-1"]) == 2
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert "online-ab is not running" in text
    assert "--header 'no-colon' is not NAME: VALUE" in text
    assert "nothing to watch: start a pattern with `mlpatterns up`" in text
    assert "no Prometheus: start a pattern with `mlpatterns up`" in text
    assert "must be above 0" in text
    assert "must be 0 (no user header) or more, got -1" in text
