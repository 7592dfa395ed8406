"""The prediction cache: hits against the ceiling and against the model it saves.

(a) a FastAPI endpoint answering a constant (the ceiling of a Python service answering from
memory), (b) mlpatterns-server without the cache on a model that takes 5 ms per call,
(c) mlpatterns-server with the cache, every request a hit (the same row; a real redis-server).
wrk at concurrency 1 and 32, one run each, same machine. Targets: (c) at least 0.7x (a) and at
least 5x (b) in req/s at concurrency 32.

(d) the Redis timeout (--cache_timeout_ms) on a busy machine: (c) at concurrency 32 with a
CPU-bound process on every core beside it, for several timeouts; the share of lookups that gave up
(each a request predicted without the cache) shows which default holds. Target: the default's
share under 1%. Run: .venv/bin/python -m bench.cache, or make bench (BENCH_SECONDS to change the length)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import joblib
import redis
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_iris

from bench.baselines.slow_model import SlowClassifier
from bench.common import ROOT, free_port, wait_ready
from bench.serving import SECONDS, Result, post_script, run_wrk
from mlpatterns_server.settings import ServerSettings

PYTHON = sys.executable
TIMEOUTS_MS = (5.0, 10.0, 25.0, 50.0)
DEFAULT_TIMEOUT_MS = ServerSettings.model_fields["cache_timeout_ms"].default


def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            subprocess.run(["sleep", "0.05"], check=True)
    raise RuntimeError("redis-server did not start")


def measure(command: list[str], ready_path: str, port: int, script: Path, env: dict[str, str]) -> dict[int, Result]:
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, process, ready_path)
        run_wrk(port, 32, 2, script)  # warm up (and fill the cache)
        return {concurrency: run_wrk(port, concurrency, SECONDS, script) for concurrency in (1, 32)}
    finally:
        process.terminate()
        process.wait(timeout=30)


def _burn() -> None:
    while True:
        pass


def lookups(port: int) -> dict[str, float]:
    """The server's cache lookups so far, by result."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {sample.labels["result"]: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == "mlpatterns_cache_requests_total"}  # fmt: skip


def timeouts_on_a_busy_machine(ours: list[str], redis_port: int, script: Path, env: dict[str, str]) -> None:
    burners = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(os.cpu_count() or 1)]
    for burner in burners:
        burner.start()
    try:
        print(f"(d) cache hits at concurrency 32, a CPU-bound process on each of {len(burners)} cores beside")
        print(f"{'timeout ms':>10}{'req/s':>9}{'p99 ms':>9}{'lookups':>9}{'gave up':>9}")
        for timeout in TIMEOUTS_MS:
            port = free_port()
            command = [*ours, "--http_port", str(port), "--cache_redis_url", f"redis://127.0.0.1:{redis_port}/0",
                       "--cache_timeout_ms", str(timeout)]  # fmt: skip
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_ready(port, process, "/v2/health/ready")
                run_wrk(port, 32, 2, script)
                before = lookups(port)
                result = run_wrk(port, 32, SECONDS, script)
                after = lookups(port)
            finally:
                process.terminate()
                process.wait(timeout=30)
            counts = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in ("hit", "miss", "error")}
            total = sum(counts.values()) or 1.0
            mark = "  <- default" if timeout == DEFAULT_TIMEOUT_MS else ""
            print(f"{timeout:>10g}{result.rps:>9.0f}{result.p99_ms:>9.2f}{total:>9.0f}"
                  f"{counts['error'] / total:>9.2%}{mark}")  # fmt: skip
    finally:
        for burner in burners:
            burner.terminate()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        features, labels = load_iris(return_X_y=True)
        (work / "model").mkdir()
        joblib.dump(SlowClassifier(5.0).fit(features, labels), work / "model" / "model.joblib")
        script = post_script(work / "hit.lua", {"instances": features[:1].tolist()})
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        redis_port = free_port()
        redis_server = start_redis(redis_port, work)
        ours = [PYTHON, "-m", "mlpatterns_server", "--model_name", "model", "--model_dir", str(work / "model")]
        try:
            results: dict[str, dict[int, Result]] = {}
            port = free_port()
            constant = [PYTHON, "-m", "uvicorn", "bench.baselines.fastapi_constant:app", "--port", str(port),
                        "--no-access-log", "--log-level", "warning"]  # fmt: skip
            results["(a) fastapi constant"] = measure(constant, "/docs", port, script, env)
            port = free_port()
            results["(b) ours, 5 ms model"] = measure(
                [*ours, "--http_port", str(port)], "/v2/health/ready", port, script, env
            )
            port = free_port()
            cached = [*ours, "--http_port", str(port), "--cache_redis_url", f"redis://127.0.0.1:{redis_port}/0"]
            results["(c) ours, cache hits"] = measure(cached, "/v2/health/ready", port, script, env)
            print_results(results)
            timeouts_on_a_busy_machine(ours, redis_port, script, env)
        finally:
            redis_server.terminate()
            redis_server.wait(timeout=10)


def print_results(results: dict[str, dict[int, Result]]) -> None:
    print(f"machine: {os.cpu_count()} cores; wrk -t1 on the same machine; {SECONDS}s per run; iris, one row")
    print(f"{'server':<24}{'conc':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'x(a)':>8}{'x(b)':>8}")
    for name, by_concurrency in results.items():
        for concurrency, result in by_concurrency.items():
            a = results["(a) fastapi constant"][concurrency].rps
            b = results["(b) ours, 5 ms model"][concurrency].rps
            print(f"{name:<24}{concurrency:>6}{result.rps:>9.0f}{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}"
                  f"{result.rps / a:>8.2f}{result.rps / b:>8.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
