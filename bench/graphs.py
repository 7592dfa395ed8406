"""InferenceGraphs under the local gateway of `mlpatterns up`, in one run:

(1) fan-out: three model servers, each made to take 20 ms per predict call; one of them called
    directly (the slowest step), the three through a Sequence (in a row, $request each), and the
    three through an Ensemble (at once), at concurrency 1;
(2) the cost of a hop: one fast model called directly, through the gateway's plain route (a
    proxy), and as the one step of a Sequence, at concurrency 1 and 32.

Targets: the Ensemble at most 1.3x the slowest step's latency (not 3x: its steps run at once);
a Sequence step adds under 1 ms at p50 over calling the model directly. Run:
python -m bench.graphs (BENCH_SECONDS per run)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import joblib
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.baselines.slow_model import SlowClassifier
from bench.common import ROOT
from bench.gateway import gateway, line, server, stop
from bench.serving import SECONDS, Result, post_script, run_wrk

NAMESPACE = "bench"
GRAPH = f"graph.{NAMESPACE}.svc.cluster.local"
STEP_MS = 20


def host(name: str) -> str:
    return f"{name}.{NAMESPACE}.svc.cluster.local"


def graph(router: str, names: list[str]) -> dict[str, Any]:
    steps = [{"name": name, "serviceUrl": f"http://{host(name)}/v1/models/model:predict"} for name in names]
    return {"kind": "InferenceGraph", "metadata": {"name": "graph", "namespace": NAMESPACE},
            "spec": {"nodes": {"root": {"routerType": router, "steps": steps}}}}  # fmt: skip


def services(ports: dict[str, int]) -> dict[str, str]:
    return {key: f"127.0.0.1:{local}" for name, local in ports.items() for key in (host(name), f"{host(name)}:80")}


def measure(port: int, concurrency: int, script: Path) -> Result:
    run_wrk(port, concurrency, 2, script)  # warm up
    return run_wrk(port, concurrency, SECONDS, script)


def main() -> None:
    features, labels = load_breast_cancer(return_X_y=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fast_model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        for name, estimator in (("slow", SlowClassifier(STEP_MS)), ("fast", fast_model)):
            (work / name).mkdir()
            joblib.dump(estimator.fit(features, labels), work / name / "model.joblib")
        script = post_script(work / "body.lua", {"instances": features[:1].tolist()})
        print(f"one row per request, wrk -t1, {SECONDS} s per run")
        print(f"{'':<34} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   x(first) +p50 ms")
        measured: list[str] = []

        # (1) Fan-out: three 20 ms models.
        slow = {name: server(work / "slow") for name in ("a", "b", "c")}
        ports = {name: port for name, (_, port) in slow.items()}
        in_row, in_row_port = gateway(work, services(ports), [graph("Sequence", list(ports))], GRAPH)
        at_once, at_once_port = gateway(work, services(ports), [graph("Ensemble", list(ports))], GRAPH)
        try:
            step = measure(ports["a"], 1, script)
            row = measure(in_row_port, 1, script)
            fan = measure(at_once_port, 1, script)
            print(line(f"(1a) one {STEP_MS} ms model, direct", 1, step, None))
            print(line("(1b) three in a row (Sequence)", 1, row, step))
            print(line("(1c) three at once (Ensemble)", 1, fan, step), flush=True)
            measured.append(f"Ensemble p50 {fan.p50_ms / step.p50_ms:.2f}x the slowest step "
                            f"(in a row: {row.p50_ms / step.p50_ms:.2f}x)")  # fmt: skip
        finally:
            stop(at_once, in_row, *(process for process, _ in slow.values()))

        # (2) A hop: one fast model.
        fast, fast_port = server(work / "fast")
        proxy, proxy_port = gateway(work, services({"fast": fast_port}), [], host("fast"))
        hop, hop_port = gateway(work, services({"fast": fast_port}), [graph("Sequence", ["fast"])], GRAPH)
        try:
            for concurrency in (1, 32):
                direct = measure(fast_port, concurrency, script)
                proxied = measure(proxy_port, concurrency, script)
                stepped = measure(hop_port, concurrency, script)
                print(line("(2a) model, direct", concurrency, direct, None))
                print(line("(2b) through the gateway's route", concurrency, proxied, direct))
                print(line("(2c) a Sequence step", concurrency, stepped, direct), flush=True)
                measured.append(f"Sequence step {stepped.p50_ms - direct.p50_ms:+.2f} ms p50 at {concurrency} "
                                f"(a plain route {proxied.p50_ms - direct.p50_ms:+.2f})")  # fmt: skip
        finally:
            stop(hop, proxy, fast)
        print("targets: Ensemble <= 1.3x the slowest step; a Sequence step < 1 ms added at p50")
        print("measured: " + "; ".join(measured))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    main()
