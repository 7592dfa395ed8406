"""The asynchronous pattern end to end: jobs submitted over HTTP until all are done.

wrk posts the same one-row v1 job to `async-api` at concurrency 32 for BENCH_SECONDS, while one
`async-worker` (read_count 256) predicts them from the Redis Stream; the clock stops when the
worker has finished every submitted job. Beside it, in the same run, the synchronous server on the
same model and row (wrk, same concurrency): what the model serves when clients wait.
Target: at least 1,000 jobs/s end to end with one worker. Run: make bench (or python -m bench.async_jobs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from bench.cache import start_redis
from bench.common import ROOT, free_port, wait_ready
from bench.serving import SECONDS, post_script, run_wrk

PYTHON = sys.executable


def counter(url: str, name: str, labels: str) -> float:
    for line in httpx.get(url).text.splitlines():
        if line.startswith(f"{name}{{{labels}}}"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def wrk_jobs(port: int, script: Path) -> float:
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{SECONDS}s", "-s", str(script), f"http://127.0.0.1:{port}/v1/jobs"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        features, labels = load_iris(return_X_y=True)
        (work / "model").mkdir()
        joblib.dump(LogisticRegression(max_iter=1000).fit(features, labels), work / "model" / "model.joblib")
        script = post_script(work / "job.lua", {"instances": features[:1].tolist()})
        redis_port = free_port()
        redis_server = start_redis(redis_port, work)
        common = [
            "--model_name",
            "model",
            "--model_dir",
            str(work / "model"),
            "--redis_url",
            f"redis://127.0.0.1:{redis_port}/0",
        ]
        api_port, worker_port, sync_port = free_port(), free_port(), free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        quiet = {"cwd": ROOT, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        processes = []
        try:
            api = subprocess.Popen(
                [PYTHON, "-m", "mlpatterns_server", "async-api", *common, "--http_port", str(api_port)], **quiet
            )  # type: ignore[call-overload]
            worker = subprocess.Popen([PYTHON, "-m", "mlpatterns_server", "async-worker", *common, "--http_port",
                                       str(worker_port), "--read_count", "256"], **quiet)  # type: ignore[call-overload]  # fmt: skip
            processes += [api, worker]
            wait_ready(api_port, api, "/v2/health/ready")
            wait_ready(worker_port, worker, "/metrics")
            started = time.perf_counter()
            submit_rate = wrk_jobs(api_port, script)
            submitted = counter(
                f"http://127.0.0.1:{api_port}/metrics", "mlpatterns_async_jobs_total", 'model="model",state="submitted"'
            )
            worker_metrics = f"http://127.0.0.1:{worker_port}/metrics"
            while counter(worker_metrics, "mlpatterns_async_jobs_total", 'model="model",state="done"') < submitted:
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            api.terminate()
            worker.terminate()
            sync = subprocess.Popen([PYTHON, "-m", "mlpatterns_server", "--model_name", "model", "--model_dir",
                                     str(work / "model"), "--http_port", str(sync_port)], **quiet)  # type: ignore[call-overload]  # fmt: skip
            processes.append(sync)
            wait_ready(sync_port, sync, "/v2/health/ready")
            synchronous = run_wrk(sync_port, 32, SECONDS, script)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
            redis_server.terminate()
            redis_server.wait(timeout=10)
    print(f"machine: {os.cpu_count()} cores; wrk -t1 -c32 for {SECONDS}s on the same machine; iris, one row per job")
    print(f"jobs submitted: {submitted:.0f} at {submit_rate:.0f}/s; all done after {elapsed:.1f} s")
    print(f"end to end: {submitted / elapsed:.0f} jobs/s with one worker (target 1,000)")
    print(f"synchronous server, same model and row: {synchronous.rps:.0f} req/s "
          f"(async end to end is {submitted / elapsed / synchronous.rps:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
