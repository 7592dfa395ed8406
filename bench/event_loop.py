"""Health checks while large requests are decoded: the model server with everything on its event
loop (--offload_bytes 0, the baseline) against the default, where JSON bodies over 512 KiB are
decoded in a helper process and predicted in a thread. Three clients send 10 MB bodies (450k rows)
back to back while a separate process probes /v2/health/live every 10 ms; prints the probes'
latency and the large requests' throughput, and the ratios to the baseline. Run: make bench
(EVENT_LOOP_SECONDS to change the default 15 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from bench.common import ROOT, free_port, wait_ready

SECONDS = int(os.environ.get("EVENT_LOOP_SECONDS", "15"))
ROW = [5.1, 3.5, 1.4, 0.2]
PROBE = """
import json, sys, time, httpx
url, seconds = sys.argv[1], float(sys.argv[2])
latencies = []
with httpx.Client() as client:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        client.get(url)
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.01)
print(json.dumps(latencies))
"""


@dataclass
class Result:
    probe_p50: float
    probe_p99: float
    probe_max: float
    large_per_second: float
    large_seconds: float


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run(model_dir: Path, extra: list[str]) -> Result:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlpatterns_server", "--model_name", "iris", "--model_dir", str(model_dir),
         "--http_port", str(port), "--host", "127.0.0.1", *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    body = json.dumps({"instances": [ROW] * 450_000}).encode()
    durations: list[float] = []
    try:
        wait_ready(port, server, "/v2/health/ready")
        url = f"http://127.0.0.1:{port}"
        probe = subprocess.Popen(
            [sys.executable, "-c", PROBE, f"{url}/v2/health/live", str(SECONDS)], stdout=subprocess.PIPE, text=True
        )
        end = time.monotonic() + SECONDS

        def client() -> None:
            with httpx.Client(timeout=120) as session:
                while time.monotonic() < end:
                    started = time.perf_counter()
                    answer = session.post(f"{url}/v1/models/iris:predict", content=body)
                    assert answer.status_code == 200, answer.text[:200]
                    durations.append(time.perf_counter() - started)

        clients = [threading.Thread(target=client) for _ in range(3)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        latencies = json.loads(probe.communicate(timeout=SECONDS + 60)[0])
    finally:
        server.terminate()
        server.wait(timeout=60)
    return Result(
        _percentile(latencies, 0.5), _percentile(latencies, 0.99), max(latencies), len(durations) / SECONDS,
        sum(durations) / len(durations),
    )  # fmt: skip


def main() -> None:
    print(f"machine: {os.cpu_count()} cores; 3 clients sending 10 MB bodies for {SECONDS} s; a probe every 10 ms")
    with tempfile.TemporaryDirectory() as folder:
        model_dir = Path(folder) / "model"
        model_dir.mkdir()
        features, labels = load_iris(return_X_y=True)
        joblib.dump(LogisticRegression(max_iter=1000).fit(features, labels), model_dir / "model.joblib")
        results = {
            "(a) all on the event loop": run(model_dir, ["--offload_bytes", "0"]),
            "(b) ours (offload)": run(model_dir, []),
        }
    base = results["(a) all on the event loop"]
    print(f"{'server':<28}{'probe p50':>10}{'p99 ms':>9}{'max ms':>9}{'large/s':>9}{'large s':>9}{'x(a) p99':>10}"
          f"{'x(a) max':>10}{'x(a) large/s':>14}")  # fmt: skip
    for name, result in results.items():
        print(
            f"{name:<28}{result.probe_p50:>10.1f}{result.probe_p99:>9.1f}{result.probe_max:>9.1f}"
            f"{result.large_per_second:>9.2f}{result.large_seconds:>9.2f}{result.probe_p99 / base.probe_p99:>10.2f}"
            f"{result.probe_max / base.probe_max:>10.2f}{result.large_per_second / base.large_per_second:>14.2f}"
        )


if __name__ == "__main__":
    main()
