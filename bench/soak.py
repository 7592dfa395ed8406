"""A soak: the model server under a steady load for 10 minutes, a third of the requests invalid in
the ways clients get them wrong, with the prediction-log sink (a real redis-server) down for the
middle fifth. Every 10 s it samples the server's memory and open files, the answers by class and
the events waiting for the sink; it prints them as a table, draws them to a PNG, and checks the
targets: no 5xx, memory flat (the last minute within 10% or 30 MB of the second), every answered
prediction's event in the stream once the sink is back. Not a test: `make soak` (SOAK_SECONDS and
SOAK_RATE to change the defaults)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import joblib
import redis
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from bench.common import ROOT, free_port, open_files, rss_mb, wait_ready

SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
RATE = int(os.environ.get("SOAK_RATE", "300"))  # requests per second
SAMPLE_EVERY = 10
ROW = [5.1, 3.5, 1.4, 0.2]
STREAM = "mlpatterns:predictions"

# (name, path, body, share): what clients send, the invalid kinds a third of the load.
REQUESTS = [
    ("valid v1", "/v1/models/iris:predict", json.dumps({"instances": [ROW] * 4}).encode(), 50),
    ("valid v2", "/v2/models/iris/infer",
     json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}).encode(), 17),
    ("malformed JSON", "/v1/models/iris:predict", b'{"instances": [[5.1, 3.5', 6),
    ("wrong width", "/v1/models/iris:predict", b'{"instances": [[5.1, 3.5, 1.4]]}', 6),
    ("NaN", "/v1/models/iris:predict", b'{"instances": [[5.1, NaN, 1.4, 0.2]]}', 5),
    ("boolean", "/v1/models/iris:predict", b'{"instances": [[5.1, true, 1.4, 0.2]]}', 5),
    ("deep nesting", "/v1/models/iris:predict", b'{"instances": ' + b"[" * 500 + b"1" + b"]" * 500 + b"}", 5),
    ("unknown route", "/v1/models/iris/predict", b"{}", 6),
]  # fmt: skip


@dataclass
class Sample:
    second: int
    rss_mb: float
    open_files: int
    answered: Counter[str]
    buffered: float
    sink_up: bool


def _metric(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


async def load(url: str, stop: asyncio.Event, answered: Counter[str]) -> None:
    """RATE requests a second, in a fixed rotation of REQUESTS by share, on 16 connections."""
    rotation = [request for request in REQUESTS for _ in range(request[3])]
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def one(path: str, body: bytes) -> None:
            try:
                answer = await client.post(path, content=body, headers={"content-type": "application/json"})
                answered[f"{answer.status_code // 100}xx"] += 1
            except httpx.HTTPError as error:
                answered[type(error).__name__] += 1

        started, sent, tasks = time.monotonic(), 0, set()
        while not stop.is_set():
            due = int((time.monotonic() - started) * RATE)
            for _ in range(due - sent):
                _name, path, body, _share = rotation[sent % len(rotation)]
                task = asyncio.create_task(one(path, body))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(0.005)
        await asyncio.gather(*tasks)


def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """A redis-server that keeps its data across the outage (append-only file), as a real one would."""
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
         "--appendfsync", "always", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        try:
            redis.Redis(port=port).ping()
            return process
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


async def soak(work: Path) -> tuple[list[Sample], int, int]:
    (work / "model").mkdir()
    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=1000).fit(features, labels), work / "model" / "model.joblib")
    redis_port, port = free_port(), free_port()
    sink = start_redis(redis_port, work)
    server = subprocess.Popen(  # noqa: ASYNC220 (started once, before the load)
        [sys.executable, "-m", "mlpatterns_server", "--model_name", "iris", "--model_dir", str(work / "model"),
         "--http_port", str(port), "--host", "127.0.0.1", "--prediction_log_sink", "redis",
         "--prediction_log_redis_url", f"redis://127.0.0.1:{redis_port}/0",
         "--prediction_log_spool_dir", str(work / "spool")],
        cwd=ROOT, stdout=(work / "server.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    samples: list[Sample] = []
    answered: Counter[str] = Counter()
    outage = (int(SECONDS * 0.4), int(SECONDS * 0.6))
    try:
        wait_ready(port, server, "/v2/health/ready")
        stop = asyncio.Event()
        generator = asyncio.create_task(load(url, stop, answered))
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=url, timeout=30) as probe:
            for second in range(0, SECONDS + 1, SAMPLE_EVERY):
                await asyncio.sleep(max(0.0, started + second - time.monotonic()))
                sink_up = not outage[0] <= second < outage[1]
                if not sink_up and sink.poll() is None:
                    sink.terminate()
                    sink.wait()
                elif sink_up and sink.poll() is not None:
                    sink = start_redis(redis_port, work)
                metrics = (await probe.get("/metrics")).text
                buffered = _metric(metrics, "mlpatterns_prediction_log_buffered_events")
                samples.append(Sample(second, rss_mb(server.pid), open_files(server.pid), Counter(answered), buffered,
                                      sink_up))  # fmt: skip
                print(_row(samples[-1], samples[-2] if len(samples) > 1 else None), flush=True)
        stop.set()
        await generator
        # Every answered prediction's event reaches the stream once the sink is back.
        deadline = time.monotonic() + 60
        client = redis.Redis(port=redis_port)
        while client.xlen(STREAM) < answered["2xx"] and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.5)
        return samples, answered["2xx"], int(client.xlen(STREAM))
    finally:
        server.terminate()
        server.wait(timeout=60)
        sink.terminate()
        sink.wait()


HEADER = f"{'second':>7}{'RSS MB':>9}{'files':>7}{'req/s':>8}{'2xx':>9}{'4xx':>9}{'5xx':>6}{'waiting':>9}  sink"


def _row(sample: Sample, previous: Sample | None) -> str:
    total = sum(sample.answered.values())
    rate = (total - sum(previous.answered.values())) / SAMPLE_EVERY if previous else 0.0
    sink = "up" if sample.sink_up else "DOWN"
    return (
        f"{sample.second:>7}{sample.rss_mb:>9.0f}{sample.open_files:>7}{rate:>8.0f}{sample.answered['2xx']:>9}"
        f"{sample.answered['4xx']:>9}{sample.answered['5xx']:>6}{sample.buffered:>9.0f}  {sink}"
    )


def draw(samples: list[Sample], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = [s.second for s in samples]
    figure, (memory, events) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    memory.plot(seconds, [s.rss_mb for s in samples], label="RSS (MB)")
    memory.plot(seconds, [s.open_files for s in samples], label="open files")
    memory.set_title(f"mlpatterns-server soak: {RATE} req/s, a third invalid, sink down in the middle")
    memory.legend()
    events.plot(seconds, [s.buffered for s in samples], label="events waiting for the sink")
    events.plot(seconds, [s.answered["5xx"] for s in samples], label="5xx answers (total)")
    for sample in samples:
        if not sample.sink_up:
            events.axvspan(sample.second, sample.second + SAMPLE_EVERY, color="red", alpha=0.1, lw=0)
    events.set_xlabel("seconds")
    events.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)


def main() -> None:
    print(f"soak: {SECONDS} s at {RATE} req/s, sampled every {SAMPLE_EVERY} s; machine: {os.cpu_count()} cores")
    print(HEADER)
    with tempfile.TemporaryDirectory() as folder:
        samples, answered, delivered = asyncio.run(soak(Path(folder)))
    png = ROOT / "bench" / "results" / "soak.png"
    draw(samples, png)
    baseline = next((s.rss_mb for s in samples if s.second >= 60), samples[0].rss_mb)
    last = max(s.rss_mb for s in samples if s.second >= SECONDS - 60)
    errors = samples[-1].answered["5xx"]
    print(f"\n5xx: {errors} (target 0)")
    print(f"memory: {baseline:.0f} MB at one minute, at most {last:.0f} MB in the last minute "
          f"(target: within 10% or 30 MB)")  # fmt: skip
    print(f"prediction log: {answered} predictions answered, {delivered} events in the stream (target: all)")
    print(f"chart: {png.relative_to(ROOT)}")
    flat = last - baseline <= max(30.0, baseline * 0.1)
    sys.exit(0 if errors == 0 and flat and delivered >= answered else 1)


if __name__ == "__main__":
    main()
