"""`make demo`: train a classifier, serve it with the mlpatterns model server on this machine, and
query it the ways a client would: KServe v1, Open Inference Protocol v2, metrics, prediction log.

Until `mlpatterns up <pattern>` lands, this is the local demo: one real server process and a real
redis-server for the prediction log, all on loopback, stopped at the end."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import joblib
import redis
from rich.console import Console
from rich.table import Table
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
console = Console()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    sys.exit(f"the server did not become ready:\n{log.read_text()[-3000:]}")


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "model").mkdir(parents=True)

    console.rule("1. train")
    iris = load_iris()
    train_x, test_x, train_y, test_y = train_test_split(iris.data, iris.target, test_size=0.2, random_state=0)
    model = RandomForestClassifier(n_estimators=50, random_state=0).fit(train_x, train_y)
    joblib.dump(model, WORK / "model" / "model.joblib")
    console.print(f"random forest on iris: test accuracy {model.score(test_x, test_y):.3f}, saved to .demo/model")

    console.rule("2. serve")
    redis_port, port = free_port(), free_port()
    redis_server = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--dir", str(WORK)],
        stdout=subprocess.DEVNULL,
    )
    log = WORK / "server.log"
    # Paths relative to the repository, where the command runs: printed, it can be pasted there.
    command = [
        os.path.relpath(Path(sys.executable).parent / "mlpatterns-server", ROOT),
        "--model_name",
        "iris",
        "--model_dir",
        os.path.relpath(WORK / "model", ROOT),
        "--http_port",
        str(port),
        "--host",
        "127.0.0.1",
        "--model_version",
        "v1",
        "--prediction_log_sink",
        "redis",
        "--prediction_log_redis_url",
        f"redis://127.0.0.1:{redis_port}/0",
    ]
    console.print("$ " + shlex.join(command), soft_wrap=True)
    server = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/v2/health/ready", server, log)
        console.print(f"ready at {url}")
        query(url, test_x, test_y, iris.target_names, redis_port)
    finally:
        server.terminate()
        server.wait(timeout=30)
        redis_server.terminate()
        redis_server.wait(timeout=10)
    console.rule("done")
    console.print("server log: .demo/server.log  |  tests: make test  |  docs: docs/model-server.md")


def query(url: str, test_x: object, test_y: object, names: object, redis_port: int) -> None:
    import numpy as np

    rows = np.asarray(test_x)[:5]
    truth = np.asarray(test_y)[:5]

    console.rule("3. KServe v1: POST /v1/models/iris:predict")
    v1 = httpx.post(f"{url}/v1/models/iris:predict", json={"instances": rows.tolist()}).json()
    table = Table("features", "predicted", "actual")
    for row, predicted, actual in zip(rows, v1["predictions"], truth, strict=True):
        table.add_row(str(row.tolist()), str(np.asarray(names)[predicted]), str(np.asarray(names)[actual]))
    console.print(table)

    console.rule("4. Open Inference Protocol v2: metadata and infer with probabilities")
    console.print_json(data=httpx.get(f"{url}/v2/models/iris").json())
    request = {
        "inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": rows[0].tolist()}],
        "outputs": [{"name": "predict_proba"}],
    }
    console.print_json(data=httpx.post(f"{url}/v2/models/iris/infer", json=request).json(), indent=None)

    console.rule("5. a mistake gets a 400 that says what is wrong")
    bad = httpx.post(f"{url}/v1/models/iris:predict", json={"instances": [[5.1, 3.5, 1.4]]})
    console.print(f"{bad.status_code} {bad.json()}", soft_wrap=True)

    console.rule("6. metrics (GET /metrics)")
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(("mlpatterns_requests_total", "mlpatterns_request_duration_seconds_count")):
            console.print(line, soft_wrap=True)

    console.rule("7. prediction log: the Redis Stream mlpatterns:predictions")
    client = redis.Redis(port=redis_port)
    deadline = time.monotonic() + 10
    while client.xlen("mlpatterns:predictions") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    console.print(f"{client.xlen('mlpatterns:predictions')} events; the first:")
    entries = client.xrange("mlpatterns:predictions", count=1)
    console.print_json(json.dumps(json.loads(entries[0][1][b"event"])), indent=None)  # type: ignore[index]


if __name__ == "__main__":
    main()
