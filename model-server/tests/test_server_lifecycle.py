"""Start and stop: SIGTERM lets in-flight requests finish; bad arguments and unloadable models end
the process with a clear message and a non-zero status; the model also runs under stock KServe."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.support.model_server import Iris, ServerFactory, wait_in_flight
from tests.support.processes import ManagedProcess, free_port

ROW = [6.2, 3.4, 5.4, 2.3]


def test_sigterm_drains_in_flight_requests(start_server: ServerFactory, iris: Iris) -> None:
    # A lone request waits 1.5 s for company in the batcher: it is in flight when SIGTERM lands.
    server = start_server(
        "--model_dir", str(iris.joblib_dir), "--enable_batching", "true", "--max_batch_wait_ms", "1500"
    )
    answers: list[httpx.Response] = []
    request = threading.Thread(
        target=lambda: answers.append(httpx.post(server.predict_url, json={"instances": [ROW]}, timeout=30))
    )
    request.start()
    wait_in_flight(server)
    server.process.terminate_gracefully()
    request.join()
    assert answers[0].status_code == 200
    assert answers[0].json() == {"predictions": iris.estimator.predict([ROW]).tolist()}


def test_a_request_longer_than_the_grace_period_does_not_hold_the_stop(start_server: ServerFactory, iris: Iris) -> None:
    """--grace_period 1: a request still waiting 5 s in the batcher is cut off, and the server stops."""
    server = start_server("--model_dir", str(iris.joblib_dir), "--enable_batching", "true",
                          "--max_batch_wait_ms", "5000", "--grace_period", "1")  # fmt: skip
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(httpx.post(server.predict_url, json={"instances": [ROW]}, timeout=30).status_code)
        except httpx.HTTPError as error:
            outcome.append(type(error).__name__)

    request = threading.Thread(target=call)
    request.start()
    wait_in_flight(server)
    server.process.signal(signal.SIGTERM)
    assert server.process.wait_exit(timeout=30) in (0, -signal.SIGTERM)
    request.join()
    assert outcome != [200], "the request was cut off at the end of the grace period, not answered"
    assert "Cancel" in server.process.logs() or "timeout" in server.process.logs().lower()


def test_invalid_arguments_exit_2_with_the_reason() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlpatterns_server", "--model_dir", "/models", "--workers", "zero"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--workers: Input should be a valid integer" in done.stderr


def test_a_misspelt_argument_is_refused_with_the_nearest_one() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlpatterns_server", "--model_dir", "/models", "--enable_bathcing", "true"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "mlpatterns-server: unknown argument --enable_bathcing; did you mean --enable_batching?" in done.stderr


def test_kserves_own_arguments_are_accepted_and_ignored(start_server: ServerFactory, iris: Iris) -> None:
    # What a KServe ServingRuntime may pass besides the arguments this server takes.
    server = start_server("--model_dir", str(iris.joblib_dir), "--grpc_port", "8081", "--enable_grpc=false",
                          "--max_threads", "4")  # fmt: skip
    assert httpx.post(server.predict_url, json={"instances": [[5.1, 3.5, 1.4, 0.2]]}).status_code == 200
    assert "ignoring --grpc_port, an argument of KServe's model server" in server.process.logs()


def test_unloadable_model_exits_1_with_the_reason(start_server: ServerFactory, tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(b"this is not a pickle")
    server = start_server("--model_dir", str(tmp_path), wait=False)
    assert server.process.wait_exit(timeout=60) == 1
    assert "model.joblib was detected as format 'sklearn' but does not load" in server.process.logs()


def test_served_model_runs_under_stock_kserve(iris: Iris, tmp_path: Path) -> None:
    port = free_port()
    host = ManagedProcess(
        [sys.executable, "-m", "tests.support.kserve_host", str(iris.joblib_dir), str(port)],
        tmp_path / "kserve.log",
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        url = f"http://127.0.0.1:{port}"
        host.wait_http(f"{url}/v2/health/ready", timeout=90)
        rows = iris.features[::30]
        v1 = httpx.post(f"{url}/v1/models/iris:predict", json={"instances": rows.tolist()})
        assert v1.json() == {"predictions": iris.estimator.predict(rows).tolist()}
        v2 = httpx.post(
            f"{url}/v2/models/iris/infer",
            json={
                "inputs": [
                    {"name": "input-0", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}
                ]
            },
        )
        assert v2.json()["outputs"][0]["data"] == iris.estimator.predict(rows).tolist()
        refused = httpx.post(f"{url}/v1/models/iris:predict", json={"instances": [[1.0, 2.0]]})
        assert refused.status_code == 400
        assert "rows have 2 features; model 'iris' expects 4" in refused.text
        metadata = httpx.get(f"{url}/v2/models/iris").json()
        assert metadata["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    finally:
        host.stop()


def test_every_process_logs_in_one_format(start_server: ServerFactory, iris: Iris) -> None:
    """With --workers, the workers' lines (INFO included) come out like the parent's: here as JSON."""
    server = start_server("--model_dir", str(iris.joblib_dir), "--workers", "2", "--log_format", "json")

    def serving_workers() -> set[int]:
        entries = [json.loads(line) for line in server.process.logs().splitlines() if line.strip()]
        assert all({"time", "level", "logger", "message", "process"} <= entry.keys() for entry in entries)
        return {e["process"] for e in entries if e["level"] == "INFO" and e["message"].startswith("serving sklearn ")}

    deadline = time.monotonic() + 60  # ready means one worker is; the other may still be starting
    while len(serving_workers()) < 2:
        assert time.monotonic() < deadline, "each worker's INFO line should be there"
        time.sleep(0.1)


def test_serving_never_imports_kserve(iris: Iris) -> None:
    """KServe (with the Kubernetes client) is imported only to run under stock KServe."""
    probe = (
        "import sys; from pathlib import Path; import mlpatterns_server.app, mlpatterns_server.cli; "
        "from mlpatterns_server.loading.formats import load_model; load_model(Path(sys.argv[1])); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kserve', 'kubernetes')))"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(iris.joblib_dir)], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"
