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
from collections.abc import Callable
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
        # The HTTP floor: no framework, no model, a constant answer.
        "(e) bare asgi constant": (
            [PYTHON, "-m", "uvicorn", "bench.baselines.asgi_constant:app", "--no-access-log", "--log-level", "warning"],
            "/",
        ),
    }


def port_args(name: str, port: int) -> list[str]:
    if name.startswith(("(a)", "(e)")):
        return ["--port", str(port)]
    if name.startswith("(b)"):
        return [str(port)]
    return ["--http_port", str(port)]


def post_script(path: Path, document: object) -> Path:
    """A wrk script that POSTs this JSON document with every request."""
    body = json.dumps(document)
    path.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {json.dumps(body)}\n'
    )
    return path


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
    script = post_script(workdir / f"{label}.lua", {"instances": features[:1].tolist()})
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


@dataclass
class Floor:
    decode_ms: float  # JSON body to the model's array, one row
    predict_one_ms: float  # one predict call on one row
    predict_batch_ms: float  # one predict call on BATCH rows


BATCH = 32


def floors(label: str) -> Floor:
    """What no server can avoid, measured in-process on the same model and request."""
    import time

    import numpy as np
    import orjson

    features, labels = load_breast_cancer(return_X_y=True)
    model = MODELS[label]().fit(features, labels)
    body = orjson.dumps({"instances": features[:1].tolist()})

    def per_call(work: Callable[[], object], repeat: int) -> float:
        work()
        started = time.perf_counter()
        for _ in range(repeat):
            work()
        return (time.perf_counter() - started) / repeat * 1000

    return Floor(
        per_call(lambda: np.asarray(orjson.loads(body)["instances"], dtype=np.float64), 20000),
        per_call(lambda: model.predict(features[:1]), 2000),
        per_call(lambda: model.predict(features[:BATCH]), 2000),
    )


def report_floor(results: dict[tuple[str, int], Result], floor: Floor) -> None:
    """Ours as a fraction of the composite floor: the HTTP constant, plus decoding, plus predict
    (one call per request; or amortised over a batch of 32 with batching)."""
    http_ms = 1000 / results[("(e) bare asgi constant", 32)].rps
    unbatched = 1000 / (http_ms + floor.decode_ms + floor.predict_one_ms)
    batched = 1000 / (http_ms + floor.decode_ms + floor.predict_batch_ms / BATCH)
    predict = f"predict {floor.predict_one_ms:.3f} ms per call of 1 row, {floor.predict_batch_ms:.3f} ms per {BATCH}"
    decode = f"decode {floor.decode_ms * 1000:.0f} us"
    print(f"floors at concurrency 32: HTTP constant {1000 / http_ms:.0f} req/s; {decode}; {predict}")
    print(f"composite floor: {unbatched:.0f} req/s one call per request, {batched:.0f} req/s batched")
    print(f"(c) ours is {results[('(c) ours', 32)].rps / unbatched:.2f} of its floor; "
          f"(d) ours+batching is {results[('(d) ours+batching', 32)].rps / batched:.2f} of its floor")  # fmt: skip


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
            results = bench_model(label, Path(tmp))
            report(label, results)
            report_floor(results, floors(label))


if __name__ == "__main__":
    main()
