"""Serving throughput and latency, baseline and ours in one run on the same machine and model.

(a) a minimal FastAPI `async def` endpoint, (b) stock kserve.ModelServer with a trivial
kserve.Model, (c) mlpatterns-server with defaults, (d) mlpatterns-server with micro-batching; each
driven by wrk at concurrency 1 and 32 with the same v1 request (one row). Prints req/s, p50, p99
and the ratios to (a). Run: make bench  (BENCH_SECONDS, BENCH_MODELS to change the defaults)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import joblib
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.common import ROOT, free_port, wait_ready

PYTHON = sys.executable
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONCURRENCY = (1, 32)
MODELS = {
    # A typical tabular classifier (~0.7 ms per predict call on one row).
    "hist-gradient-boosting": lambda: HistGradientBoostingClassifier(random_state=0),
    # A cheap one (~0.25 ms per call): the HTTP stack dominates, the hardest case for overhead.
    "logistic-regression": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
}


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float


def servers(model_dir: Path) -> dict[str, tuple[list[str], str]]:
    ours = [PYTHON, "-m", "mlpatterns_server", "--model_name", "model", "--model_dir", str(model_dir)]
    return {
        "(a) fastapi": (
            [PYTHON, "-m", "uvicorn", "bench.baselines.fastapi_app:app", "--no-access-log", "--log-level", "warning"],
            "/docs",
        ),
        "(b) kserve": ([PYTHON, "bench/baselines/kserve_app.py"], "/v2/health/ready"),
        "(c) ours": (ours, "/v2/health/ready"),
        "(d) ours+batching": ([*ours, "--enable_batching", "true"], "/v2/health/ready"),
    }


def port_args(name: str, port: int) -> list[str]:
    if name.startswith("(a)"):
        return ["--port", str(port)]
    if name.startswith("(b)"):
        return [str(port)]
    return ["--http_port", str(port)]


def run_wrk(port: int, concurrency: int, seconds: int, script: Path) -> Result:
    url = f"http://127.0.0.1:{port}/v1/models/model:predict"
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"errors during the run:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Result(rps, _latency(out, "50%"), _latency(out, "99%"))


def _latency(out: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def bench_model(label: str, workdir: Path) -> dict[tuple[str, int], Result]:
    features, labels = load_breast_cancer(return_X_y=True)
    model_dir = workdir / label
    model_dir.mkdir()
    joblib.dump(MODELS[label]().fit(features, labels), model_dir / "model.joblib")
    script = workdir / f"{label}.lua"
    body = json.dumps({"instances": features[:1].tolist()})
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {json.dumps(body)}\n'
    )
    env = {**os.environ, "BENCH_MODEL_PATH": str(model_dir / "model.joblib"), "PYTHONPATH": str(ROOT)}
    results: dict[tuple[str, int], Result] = {}
    for name, (command, ready_path) in servers(model_dir).items():
        port = free_port()
        process = subprocess.Popen(
            command + port_args(name, port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_ready(port, process, ready_path)
            run_wrk(port, 32, 2, script)  # warm up
            for concurrency in CONCURRENCY:
                results[(name, concurrency)] = run_wrk(port, concurrency, SECONDS, script)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return results


def report(label: str, results: dict[tuple[str, int], Result]) -> None:
    print(f"\nmodel: {label} (breast cancer, 30 features, one row per request), {SECONDS}s per run")
    header = ("server", "conc", "req/s", "p50 ms", "p99 ms", "x(a) req/s", "x(a) p50", "x(a) p99")
    print(f"{header[0]:<20}" + "".join(f"{title:>{11 if 'x(a)' in title else 9}}" for title in header[1:]))
    for (name, concurrency), result in results.items():
        base = results[("(a) fastapi", concurrency)]
        print(
            f"{name:<20}{concurrency:>9}{result.rps:>9.0f}{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}"
            f"{result.rps / base.rps:>11.2f}{result.p50_ms / base.p50_ms:>11.2f}{result.p99_ms / base.p99_ms:>11.2f}"
        )


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: run make setup")
    labels = os.environ.get("BENCH_MODELS", ",".join(MODELS)).split(",")
    print(f"machine: {os.cpu_count()} cores; load generator: wrk -t1 on the same machine")
    with tempfile.TemporaryDirectory() as tmp:
        for label in labels:
            report(label, bench_model(label, Path(tmp)))


if __name__ == "__main__":
    main()
