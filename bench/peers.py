"""The servers a user would pick instead of ours, in the same run on the same model and rows:
MLServer (with and without adaptive batching), BentoML (with and without batching), LitServe
(with and without batching), and ours (v2, with and without batching). Each peer runs from a venv
of its own that this bench makes once under bench/.venvs (never make setup), with the same
scikit-learn as ours so they unpickle the same model. wrk at concurrency 32, one row per request,
each server in the protocol it speaks. Target: ours with batching at least 5x MLServer with
batching. Run: python -m bench.peers (BENCH_SECONDS per run; BENCH_PEERS=name,name runs some;
BENCH_OMP_THREADS=N sets OMP_NUM_THREADS for every server, ours included, to compare them with the
same native threads: ours limits predictions on its event loop to one by default, the others
leave OpenMP its default)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import joblib
import sklearn
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier

from bench.common import ROOT, free_port, wait_ready
from bench.serving import SECONDS, post_script

VENVS = ROOT / "bench" / ".venvs"
UV = str(ROOT / ".tools" / "bin" / "uv")
PEERS = {
    # MLServer 1.7.1's parallel workers fail to start with uvloop 0.22 or later.
    "mlserver": ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22"],
    "bentoml": ["bentoml>=1.4,<1.5"],
    "litserve": ["litserve>=0.2.19,<0.3"],
}


def venv(name: str) -> Path:
    folder = VENVS / name
    if not (folder / "bin" / "python").exists() or not (folder / ".complete").exists():
        subprocess.run([UV, "venv", "--quiet", "--clear", "--python", sys.executable, str(folder)], check=True)
        packages = [*PEERS[name], f"scikit-learn=={sklearn.__version__}", "joblib"]
        # Bytecode compiled at install, as in our image: a peer must not compile its imports at each start.
        install = [UV, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(folder / "bin" / "python")]
        subprocess.run([*install, *packages], check=True)
        (folder / ".complete").touch()
    return folder


@dataclass
class Server:
    command: list[str]
    ready: str
    path: str
    body: object
    env: dict[str, str]
    cwd: Path = ROOT


def servers(model: Path, work: Path, row: list[float]) -> dict[str, Callable[[int], Server]]:
    ours = [sys.executable, "-m", "mlpatterns_server", "--model_name", "model", "--model_dir", str(model)]
    v2 = {"inputs": [{"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": [row]}]}
    plain = {"BENCH_MODEL_PATH": str(model)}

    def mlserver(batch: bool) -> Callable[[int], Server]:
        def make(port: int) -> Server:
            folder = work / f"mlserver-{batch}"
            folder.mkdir(exist_ok=True)
            settings = {"name": "model", "implementation": "mlserver_sklearn.SKLearnModel",
                        "parameters": {"uri": str(model)},
                        **({"max_batch_size": 32, "max_batch_time": 0.001} if batch else {})}  # fmt: skip
            (folder / "model-settings.json").write_text(json.dumps(settings))
            # MLServer's defaults otherwise (one parallel inference worker), as a user runs it.
            env = {"MLSERVER_HTTP_PORT": str(port), "MLSERVER_GRPC_PORT": str(free_port()),
                   "MLSERVER_METRICS_PORT": str(free_port())}  # fmt: skip
            binary = str(venv("mlserver") / "bin" / "mlserver")
            return Server([binary, "start", str(folder)], "/v2/health/ready", "/v2/models/model/infer", v2, env)

        return make

    def bentoml(batch: bool) -> Callable[[int], Server]:
        def make(port: int) -> Server:
            binary = str(venv("bentoml") / "bin" / "bentoml")
            env = {**plain, "BENCH_BATCH": "1" if batch else "0", "BENTOML_DO_NOT_TRACK": "True"}
            command = [binary, "serve", "bentoml_app:Classifier", "--port", str(port)]
            return Server(command, "/readyz", "/predict", {"features": [row]}, env, ROOT / "bench" / "peer_apps")

        return make

    def litserve(batch: bool) -> Callable[[int], Server]:
        def make(port: int) -> Server:
            python = str(venv("litserve") / "bin" / "python")
            return Server([python, "litserve_app.py", str(port)], "/health", "/predict", {"input": [row]},
                          {**plain, "BENCH_BATCH": "1" if batch else "0"}, ROOT / "bench" / "peer_apps")  # fmt: skip

        return make

    def ours_server(batch: bool) -> Callable[[int], Server]:
        def make(port: int) -> Server:
            flags = ["--enable_batching", "true"] if batch else []
            return Server([*ours, *flags, "--http_port", str(port)], "/v2/health/ready", "/v2/models/model/infer", v2,
                          {"PYTHONPATH": str(ROOT)})  # fmt: skip

        return make

    return {
        "ours (v2)": ours_server(False), "ours+batching (v2)": ours_server(True),
        "mlserver (v2)": mlserver(False), "mlserver+batching (v2)": mlserver(True),
        "bentoml": bentoml(False), "bentoml+batching": bentoml(True),
        "litserve": litserve(False), "litserve+batching": litserve(True),
    }  # fmt: skip


def measure(server: Server, port: int, work: Path) -> float:
    script = post_script(work / "body.lua", server.body)
    env = {**{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}, **server.env}
    if os.environ.get("BENCH_OMP_THREADS"):
        env["OMP_NUM_THREADS"] = os.environ["BENCH_OMP_THREADS"]
    process = subprocess.Popen(server.command, cwd=server.cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        wait_ready(port, process, server.ready, timeout=180)
        url = f"http://127.0.0.1:{port}{server.path}"
        subprocess.run(["wrk", "-t1", "-c32", "-d2s", "-s", str(script), url], capture_output=True, check=True)
        out = subprocess.run(["wrk", "-t1", "-c32", f"-d{SECONDS}s", "-s", str(script), url],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        if "Non-2xx" in out:
            raise RuntimeError(f"errors during the run:\n{out}")
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a server and every process of its group. Its workers may outlive it: LitServe's
    inference workers ignore SIGTERM and, left spinning, took both cores from every later run
    (the 5 req/s once reported for LitServe with batching). Whatever is left is killed."""
    os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)


def main() -> None:
    features, labels = load_breast_cancer(return_X_y=True)
    results: dict[str, float | str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = work / "model.joblib"
        joblib.dump(HistGradientBoostingClassifier(random_state=0).fit(features, labels), model)
        chosen = [name for name in os.environ.get("BENCH_PEERS", "").split(",") if name]
        for name, make in servers(model, work, features[0].tolist()).items():
            if chosen and name not in chosen:
                continue
            port = free_port()
            try:
                results[name] = measure(make(port), port, work)
            except Exception as error:  # a peer that does not start is reported, not fatal
                results[name] = f"failed: {str(error).splitlines()[0][:100]}"
            print(f"{name:<24} {results[name] if isinstance(results[name], str) else f'{results[name]:.0f} req/s'}",
                  flush=True)  # fmt: skip
    ours, peer = results.get("ours+batching (v2)"), results.get("mlserver+batching (v2)")
    if isinstance(ours, float) and isinstance(peer, float):
        print(f"ours+batching / mlserver+batching: {ours / peer:.1f}x (target at least 5x)")


if __name__ == "__main__":
    main()
