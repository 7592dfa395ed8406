"""Start-up: from process start to ready, for a scikit-learn model, ours beside MLServer.

Ours runs in an environment holding only the serving image's dependencies, made by the install
script the Dockerfile runs (scripts/install-locked.sh); MLServer (with mlserver-sklearn, the same
scikit-learn) in a venv of its own. Both venvs are made once under bench/.venvs (not by make
setup). Each server is started BENCH_STARTS times (5) on the same model file and timed until
GET /v2/health/ready answers 200; the median is printed, then where our time goes.
Target: ours no slower than MLServer. Run: python -m bench.startup"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from bench.common import ROOT, free_port
from bench.peers import venv

VENVS = ROOT / "bench" / ".venvs"
UV = str(ROOT / ".tools" / "bin" / "uv")
STARTS = int(os.environ.get("BENCH_STARTS", "5"))


def serving_venv() -> Path:
    venv = VENVS / "serving"
    if not (venv / "bin" / "python").exists():
        script = ["sh", "scripts/install-locked.sh", "mlpatterns-server", "model-server", str(venv), sys.executable]
        subprocess.run(script, cwd=ROOT, check=True, env={**os.environ, "UV": UV})
    return venv


def time_to_ready(command: list[str], port: int, cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:3]} exited with {process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=0.5).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    finally:
        process.terminate()
        process.wait(timeout=30)


def where_time_goes(python: Path) -> dict[str, float]:
    """Seconds for the pieces of a start, each in a fresh interpreter of the serving venv."""

    def seconds(code: str) -> float:
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([str(python), "-c", code], check=True)
            runs.append(time.perf_counter() - started)
        return statistics.median(runs)

    bare = seconds("pass")
    return {
        "the interpreter": bare,
        "our server's modules (cli, app, uvicorn, starlette, prometheus)": seconds(
            "import mlpatterns_server.cli, mlpatterns_server.app, uvicorn"
        )
        - bare,
        "scikit-learn (unpickling imports it; its utils import scipy.stats and pandas)": seconds(
            "import sklearn.linear_model"
        )
        - bare,
    }


def main() -> None:
    serving, mlserver = serving_venv(), venv("mlserver")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        features, labels = load_iris(return_X_y=True)
        (work / "model").mkdir()
        joblib.dump(LogisticRegression(max_iter=1000).fit(features, labels), work / "model" / "model.joblib")
        settings = {"name": "iris", "implementation": "mlserver_sklearn.SKLearnModel",
                    "parameters": {"uri": str(work / "model" / "model.joblib")}}  # fmt: skip
        (work / "model" / "model-settings.json").write_text(json.dumps(settings))
        env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
        results: dict[str, list[float]] = {"ours": [], "mlserver": []}
        for _ in range(STARTS):
            port = free_port()
            ours = [str(serving / "bin" / "python"), "-m", "mlpatterns_server", "--model_name", "iris",
                    "--model_dir", str(work / "model" / "model.joblib"), "--http_port", str(port)]  # fmt: skip
            results["ours"].append(time_to_ready(ours, port, work, env))
            port = free_port()
            mlserver_env = {**env, "MLSERVER_HTTP_PORT": str(port), "MLSERVER_GRPC_PORT": str(free_port()),
                            "MLSERVER_METRICS_PORT": str(free_port()), "MLSERVER_PARALLEL_WORKERS": "0"}  # fmt: skip
            results["mlserver"].append(time_to_ready([str(mlserver / "bin" / "mlserver"), "start", str(work / "model")],
                                                     port, work, mlserver_env))  # fmt: skip
        pieces = where_time_goes(serving / "bin" / "python")
    print(f"machine: {os.cpu_count()} cores; a LogisticRegression (iris) from a joblib file; {STARTS} starts each")
    for name, times in results.items():
        print(f"{name:<10} median {statistics.median(times):.2f} s  (min {min(times):.2f}, max {max(times):.2f})")
    ratio = statistics.median(results["ours"]) / statistics.median(results["mlserver"])
    print(f"ours / mlserver: {ratio:.2f} (target at most 1.00)")
    print("where our start goes:")
    for piece, seconds in pieces.items():
        print(f"  {seconds:.2f} s  {piece}")


if __name__ == "__main__":
    main()
