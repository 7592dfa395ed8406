"""Every client mistake gets a 4xx with a JSON error naming the problem, and the server keeps serving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import joblib
import pytest

from tests.support.metrics import sample
from tests.support.model_server import Iris, Server, ServerFactory
from tests.support.picky_model import Picky

ROW = [5.1, 3.5, 1.4, 0.2]
BINARY_HEADER_ONLY = json.dumps(
    {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}]}
).encode()

BAD_REQUESTS = [
    # (id, path, body, headers, status, message fragment)
    ("malformed-json", "v1", b'{"instances": [[5.1, 3.5', {}, 400, "request body is not valid JSON"),
    ("empty-body", "v1", b"", {}, 400, "request body is empty"),
    ("not-an-object", "v1", b"[[1, 2, 3, 4]]", {}, 400, "must be a JSON object with an 'instances' list"),
    ("no-instances", "v1", b'{"rows": [[1, 2, 3, 4]]}', {}, 400, "no 'instances' field"),
    ("empty-instances", "v1", b'{"instances": []}', {}, 400, "'instances' is empty"),
    (
        "wrong-feature-count",
        "v1",
        b'{"instances": [[5.1, 3.5, 1.4]]}',
        {},
        400,
        "instances rows have 3 features; model 'iris' expects 4",
    ),
    (
        "ragged-rows",
        "v1",
        b'{"instances": [[5.1, 3.5, 1.4, 0.2], [1, 2, 3]]}',
        {},
        400,
        "instances[1] has 3 values but instances[0] has 4",
    ),
    ("flat-list", "v1", b'{"instances": [5.1, 3.5, 1.4, 0.2]}', {}, 400, "is a flat list of 4 values"),
    (
        "string-value",
        "v1",
        b'{"instances": [[5.1, 3.5, "wide", 0.2]]}',
        {},
        400,
        "instances[0][2] is the string 'wide'",
    ),
    (
        "all-strings",
        "v1",
        b'{"instances": [["a", "b", "c", "d"]]}',
        {},
        400,
        "instances[0][0] is the string 'a'; model 'iris' expects numbers",
    ),
    (
        "text-before-numbers",
        "v1",
        b'{"instances": [["a", 1, 2, 3]]}',
        {},
        400,
        "instances[0][0] is the string 'a'; the other values are numbers",
    ),
    ("null-value", "v1", b'{"instances": [[5.1, null, 1.4, 0.2]]}', {}, 400, "instances[0][1] is null"),
    (
        "nan",
        "v1",
        b'{"instances": [[5.1, NaN, 1.4, 0.2]]}',
        {},
        400,
        "instances[0][1] is NaN; only finite numbers are accepted",
    ),
    ("infinity", "v1", b'{"instances": [[5.1, 3.5, Infinity, 0.2]]}', {}, 400, "instances[0][2] is Infinity"),
    ("overflow-to-infinity", "v1", b'{"instances": [[5.1, 3.5, 1e999, 0.2]]}', {}, 400, "instances[0][2] is Infinity"),
    ("v2-no-inputs", "v2", b'{"outputs": []}', {}, 400, "'inputs' must be a non-empty list"),
    (
        "v2-bad-datatype",
        "v2",
        b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FLOAT", "data": [5.1, 3.5, 1.4, 0.2]}]}',
        {},
        400,
        "inputs[0] ('x').datatype 'FLOAT' is not one of",
    ),
    (
        "v2-shape-mismatch",
        "v2",
        b'{"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}',
        {},
        400,
        "shape [2, 4] needs 8 values, data has 4",
    ),
    (
        "v2-dtype-mismatch",
        "v2",
        b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT32", "data": [5.1, 3.5, 1.4, 0.2]}]}',
        {},
        400,
        "inputs[0] ('x').data[0] is 5.1; its declared datatype expects integers (INT32)",
    ),
    (
        "v2-wrong-feature-count",
        "v2",
        b'{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [5.1, 3.5, 1.4]}]}',
        {},
        400,
        "rows have 3 features; model 'iris' expects 4",
    ),
    (
        "v2-zero-rows",
        "v2",
        b'{"inputs": [{"name": "x", "shape": [0, 4], "datatype": "FP32", "data": []}]}',
        {},
        400,
        "is empty; send at least one row",
    ),
    (
        "v2-unknown-output",
        "v2",
        b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}],'
        b' "outputs": [{"name": "scores"}]}',
        {},
        400,
        "output 'scores' is not an output of model 'iris'; it has predict, predict_proba",
    ),
    (
        "v2-binary-header-too-long",
        "v2",
        b'{"inputs": []}',
        {"Inference-Header-Content-Length": "999"},
        400,
        "Inference-Header-Content-Length is 999 but the body has 14 bytes",
    ),
    (
        "v2-missing-binary-data",
        "v2",
        BINARY_HEADER_ONLY,
        {"Inference-Header-Content-Length": str(len(BINARY_HEADER_ONLY))},
        400,
        "needs 16 bytes of binary data; only 0 remain",
    ),
    (
        "unknown-model-v1",
        "/v1/models/roses:predict",
        json.dumps({"instances": [ROW]}).encode(),
        {},
        404,
        "model 'roses' is not served here; this server serves 'iris'",
    ),
    ("unknown-model-v2", "/v2/models/roses/infer", b"{}", {}, 404, "model 'roses' is not served here"),
    ("unknown-version", "/v2/models/iris/versions/999/infer", b"{}", {}, 404, "not 999"),
    (
        "body-over-limit",
        "v1",
        b'{"instances": [' + b"[5.1, 3.5, 1.4, 0.2]," * 4000 + b"[1, 2, 3, 4]]}",
        {},
        413,
        "the limit is 65536 (--max_body_bytes)",
    ),
]


def _url(server: Server, path: str) -> str:
    return {"v1": server.predict_url, "v2": server.infer_url}.get(path, server.url + path)


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "message"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_request_is_a_named_4xx_and_serving_goes_on(
    iris_server: Server, iris: Iris, path: str, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    answer = httpx.post(_url(iris_server, path), content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert message in answer.json()["error"]

    good = httpx.post(iris_server.predict_url, json={"instances": [ROW]})
    assert good.status_code == 200
    assert good.json() == {"predictions": iris.estimator.predict([ROW]).tolist()}


def test_chunked_body_over_limit_is_refused(iris_server: Server) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
        for _ in range(100):
            yield b" " * 1024

    answer = httpx.post(iris_server.predict_url, content=chunks())
    assert answer.status_code == 413
    assert "exceeds the limit of 65536 bytes" in answer.json()["error"]


def test_unknown_route_and_method_answer_json(iris_server: Server) -> None:
    missing = httpx.get(f"{iris_server.url}/v3/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"].startswith(
        "no endpoint at GET /v3/nothing; the endpoints are POST /v1/models/iris:predict, POST /v2/models/iris/infer"
    )
    near = httpx.post(f"{iris_server.url}/v1/models/iris/predict", json={"instances": [ROW]})
    assert (near.status_code, near.json()) == (
        404, {"error": "no endpoint at POST /v1/models/iris/predict; did you mean POST /v1/models/iris:predict?"}
    )  # fmt: skip
    v2_typo = httpx.post(f"{iris_server.url}/v2/models/iris/infe", json={})
    assert v2_typo.json()["error"].endswith("did you mean POST /v2/models/iris/infer?")
    assert missing.headers["x-request-id"]
    wrong_method = httpx.get(iris_server.predict_url, headers={"x-request-id": "m-1"})
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert wrong_method.headers["x-request-id"] == "m-1"
    assert wrong_method.json() == {"error": "GET is not allowed on /v1/models/iris:predict; it takes POST"}
    assert "GET is not allowed on /v1/models/iris:predict" in wrong_method.json()["error"]


def test_client_errors_are_counted_by_code(iris_server: Server) -> None:
    def count_400() -> float:
        return sample(
            f"{iris_server.url}/metrics", "mlpatterns_requests_total", code="400", model="iris", role="primary"
        )

    before = count_400()
    httpx.post(iris_server.predict_url, content=b"{")
    assert count_400() == before + 1
    assert "Traceback" not in iris_server.process.logs()


@pytest.fixture(scope="module")
def picky_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("picky")
    joblib.dump(Picky(), folder / "model.joblib")
    factory = ServerFactory(tmp_path_factory.mktemp("picky-server"))
    # The model's class lives in the tests: the server process imports it from the repository.
    yield factory("--model_dir", str(folder), env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    factory.close()


def test_a_model_that_refuses_valid_input_is_a_400(picky_server: Server) -> None:
    answer = httpx.post(picky_server.predict_url, json={"instances": [[-1.0, 3.5, 1.4, 0.2]]})
    assert answer.status_code == 400
    assert answer.json() == {"error": "model 'iris' refused the input: sepal length must be positive"}


def test_a_fault_of_the_model_is_a_500_with_the_request_id_in_the_log(picky_server: Server) -> None:
    answer = httpx.post(picky_server.predict_url, json={"instances": [[999.0, 3.5, 1.4, 0.2]]},
                        headers={"x-request-id": "fault-1"})  # fmt: skip
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal error while predicting (request fault-1); see the server log"}
    logs = picky_server.process.logs()
    assert "inference failed for request fault-1" in logs
    assert "RuntimeError: the model's weights are corrupt" in logs
    assert httpx.post(picky_server.predict_url, json={"instances": [ROW]}).status_code == 200
