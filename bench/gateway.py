"""The local gateway of `mlpatterns up`, against calling the model server directly, in one run:

(1) throughput and latency of a model server called directly and through the gateway (no routes:
    the chart's entry), at concurrency 1 and 32, for the server's defaults and with batching;
(2) the primary's latency through the gateway with a VirtualService mirroring 100% of the requests
    to a shadow, against the same route with no mirror: (c) to a shadow that answers a constant,
    what mirroring itself costs; (d) to a second model server, where on two cores shared with wrk
    the shadow's own work competes with the primary's (in a cluster it runs on pods of its own);
    at concurrency 1, the median of three interleaved rounds.

Targets: the gateway at least 0.7x direct at concurrency 32; under 1 ms added at p50 at
concurrency 1; 100% mirroring costs the primary's p99 at most 1.1x. Run: python -m bench.gateway
(BENCH_SECONDS per run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import joblib
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.common import ROOT, free_port, wait_ready
from bench.serving import SECONDS, Result, post_script, run_wrk

PYTHON = sys.executable
ROUNDS = 3
HOST = "model-predictor.bench.svc.cluster.local"
SHADOW = "shadow-predictor.bench.svc.cluster.local"


def server(model_dir: Path, *flags: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [PYTHON, "-m", "mlpatterns_server", "--model_name", "model", "--model_dir", str(model_dir),
               "--http_port", str(port), "--host", "127.0.0.1", *flags]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    wait_ready(port, process, "/v2/health/ready")
    return process, port


def constant_server() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [PYTHON, "-m", "uvicorn", "bench.baselines.asgi_constant:app", "--port", str(port), "--no-access-log",
               "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    wait_ready(port, process, "/")
    return process, port


def gateway(workdir: Path, services: dict[str, str], documents: list[dict[str, Any]], fallback: str | None) -> tuple[
        subprocess.Popen[bytes], int]:  # fmt: skip
    """The gateway of `mlpatterns up` alone, on a config as up writes it (namespace bench)."""
    port, admin = free_port(), free_port()
    config = workdir / f"gateway-{port}.json"
    config.write_text(json.dumps({"documents": documents, "services": services, "port": port, "admin_port": admin,
                                  "fallback": fallback, "namespace": "bench"}))  # fmt: skip
    command = [PYTHON, "-m", "mlpatterns.local.gateway", str(config)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    wait_ready(admin, process, "/ready")
    return process, port


def mirror_route(percent: float) -> list[dict[str, Any]]:
    http: dict[str, Any] = {"name": "primary", "route": [{"destination": {"host": HOST, "port": {"number": 80}}}]}
    if percent:
        http |= {"mirror": {"host": SHADOW, "port": {"number": 80}}, "mirrorPercentage": {"value": percent}}
    return [{"kind": "VirtualService", "metadata": {"name": "bench"}, "spec": {"hosts": ["bench"], "http": [http]}}]


def stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def _median(results: list[Result]) -> Result:
    def middle(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    return Result(middle([r.rps for r in results]), middle([r.p50_ms for r in results]),
                  middle([r.p99_ms for r in results]))  # fmt: skip


def line(name: str, concurrency: int, result: Result, base: Result | None) -> str:
    ratio = f"{result.rps / base.rps:6.2f}  {result.p50_ms - base.p50_ms:+7.2f}" if base else f"{'1.00':>6}  {'':>7}"
    return f"{name:<34} {concurrency:>4} {result.rps:8.0f} {result.p50_ms:8.2f} {result.p99_ms:8.2f}   {ratio}"


def main() -> None:
    features, labels = load_breast_cancer(return_X_y=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = work / "model"
        model_dir.mkdir()
        joblib.dump(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, labels),
                    model_dir / "model.joblib")  # fmt: skip
        script = post_script(work / "body.lua", {"instances": features[:1].tolist()})
        print(f"model: logistic regression (breast cancer, one row per request), wrk -t1, {SECONDS} s per run")
        print(f"{'':<34} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   x(direct) +p50 ms")
        ratios: list[str] = []
        for label, flags in (("defaults", []), ("batching", ["--enable_batching", "true"])):
            primary, primary_port = server(model_dir, *flags)
            front, front_port = gateway(work, {f"{HOST}:80": f"127.0.0.1:{primary_port}",
                                               HOST: f"127.0.0.1:{primary_port}"}, [], HOST)  # fmt: skip
            try:
                for port in (primary_port, front_port):
                    run_wrk(port, 32, 2, script)  # warm up
                for concurrency in (1, 32):
                    direct = run_wrk(primary_port, concurrency, SECONDS, script)
                    through = run_wrk(front_port, concurrency, SECONDS, script)
                    print(line(f"(a) server, {label}", concurrency, direct, None))
                    print(line(f"(b) through the gateway, {label}", concurrency, through, direct), flush=True)
                    if concurrency == 32:
                        ratios.append(f"{label}: {through.rps / direct.rps:.2f}x direct at 32")
                    else:
                        ratios.append(f"{label}: +{through.p50_ms - direct.p50_ms:.2f} ms p50 at 1")
            finally:
                stop(front, primary)
        # Mirroring: the primary's latency, seen through the gateway, with and without a shadow.
        primary, primary_port = server(model_dir)
        constant, constant_port = constant_server()
        shadow, shadow_port = server(model_dir, "--role", "shadow")
        fronts: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            for label, shadow_address in (("none", None), ("a constant", constant_port), ("a model", shadow_port)):
                services = {f"{HOST}:80": f"127.0.0.1:{primary_port}"}
                if shadow_address:
                    services[f"{SHADOW}:80"] = f"127.0.0.1:{shadow_address}"
                fronts[label] = gateway(work, services, mirror_route(100 if shadow_address else 0), None)
                run_wrk(fronts[label][1], 1, 2, script)
            # Interleaved rounds, the median of each: p99 at concurrency 1 moves with the machine.
            runs: dict[str, list[Result]] = {label: [] for label in fronts}
            for _ in range(ROUNDS):
                for label, (_, port) in fronts.items():
                    runs[label].append(run_wrk(port, 1, SECONDS, script))
            measured = {label: _median(results) for label, results in runs.items()}
            for label, result in measured.items():
                name = "(c) primary, no mirror" if label == "none" else (
                    f"({'c' if label == 'a constant' else 'd'}) primary, mirror 100% to {label}")  # fmt: skip
                print(line(name, 1, result, None if label == "none" else measured["none"]), flush=True)
            for label in ("a constant", "a model"):
                ratios.append(f"mirroring 100% to {label}: p99 {measured[label].p99_ms / measured['none'].p99_ms:.2f}x "
                              f"of none")  # fmt: skip
        finally:
            stop(*(process for process, _ in fronts.values()), shadow, constant, primary)
        print("targets: >= 0.7x direct at 32; < 1 ms added at p50 at 1; mirroring p99 <= 1.1x (to a constant)")
        print("measured: " + "; ".join(ratios))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    main()
