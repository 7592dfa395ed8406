"""v1 and the Open Inference Protocol over real HTTP, checked against the in-memory model, with
standard v2 clients (Triton's HTTP client with binary tensors, KServe's REST client)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import tritonclient.http as triton
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from skl2onnx import to_onnx

from tests.support.model_server import Iris, Server, ServerFactory

ROWS = [0, 55, 120, 149]


def test_v1_predictions_match_the_model(iris_server: Server, iris: Iris) -> None:
    rows = iris.features[ROWS]
    answer = httpx.post(iris_server.predict_url, json={"instances": rows.tolist()})
    assert answer.status_code == 200
    assert answer.json() == {"predictions": iris.estimator.predict(rows).tolist()}


def test_v2_json_infer_and_requested_outputs(iris_server: Server, iris: Iris) -> None:
    rows = iris.features[ROWS]
    request = {
        "id": "req-7",
        "inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}],
    }
    answer = httpx.post(iris_server.infer_url, json=request).json()
    assert answer["id"] == "req-7"
    assert answer["model_name"] == "iris"
    assert answer["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": [4], "data": iris.estimator.predict(rows).tolist()}
    ]
    both = httpx.post(iris_server.infer_url, json={**request, "outputs": [{"name": "predict_proba"}]}).json()
    (probabilities,) = both["outputs"]
    assert (probabilities["name"], probabilities["shape"]) == ("predict_proba", [4, 3])
    np.testing.assert_allclose(np.reshape(probabilities["data"], (4, 3)), iris.estimator.predict_proba(rows))


def test_metadata_health_and_model_listing(iris_server: Server) -> None:
    metadata = httpx.get(f"{iris_server.url}/v2/models/iris").json()
    assert metadata["platform"] == "sklearn"
    assert metadata["versions"][0].startswith("sha256-")
    assert metadata["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert metadata["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": [-1]},
        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]},
    ]
    assert httpx.get(f"{iris_server.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{iris_server.url}/v2/health/ready").json() == {"ready": True}
    assert httpx.get(f"{iris_server.url}/v2/models/iris/ready").json() == {"name": "iris", "ready": True}
    assert httpx.get(f"{iris_server.url}/v1/models").json() == {"models": ["iris"]}
    assert httpx.get(f"{iris_server.url}/v1/models/iris").json() == {"name": "iris", "ready": True}
    assert httpx.get(f"{iris_server.url}/v2").json()["name"] == "mlpatterns-server"


def test_request_id_is_echoed_or_made(iris_server: Server) -> None:
    body = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    given = httpx.post(iris_server.predict_url, json=body, headers={"x-request-id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = httpx.post(iris_server.predict_url, json=body)
    assert len(made.headers["x-request-id"]) == 32


def test_triton_client_with_binary_tensors(iris_server: Server, iris: Iris) -> None:
    client = triton.InferenceServerClient(iris_server.url.removeprefix("http://"))
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("iris")
    assert client.get_model_metadata("iris")["inputs"][0]["shape"] == [-1, 4]
    rows = iris.features[ROWS]
    tensor = triton.InferInput("input-0", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows)  # binary by default
    result = client.infer("iris", [tensor])  # asks for binary outputs
    np.testing.assert_array_equal(result.as_numpy("predict"), iris.estimator.predict(rows))
    outputs = [triton.InferRequestedOutput("predict_proba", binary_data=True)]
    result = client.infer("iris", [tensor], outputs=outputs)
    np.testing.assert_allclose(result.as_numpy("predict_proba"), iris.estimator.predict_proba(rows))


def test_kserve_rest_client(iris_server: Server, iris: Iris) -> None:
    rows = iris.features[ROWS]
    tensor = InferInput(name="input-0", shape=list(rows.shape), datatype="FP64")
    tensor.set_data_from_numpy(rows, binary_data=False)

    async def infer() -> np.ndarray:
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=10))
        try:
            response = await client.infer(iris_server.url, InferRequest("iris", [tensor]), model_name="iris")
            return response.outputs[0].as_numpy()  # type: ignore[no-any-return]
        finally:
            await client.close()

    np.testing.assert_array_equal(asyncio.run(infer()), iris.estimator.predict(rows))


def test_v1_can_answer_with_probabilities(start_server: ServerFactory, iris: Iris) -> None:
    server = start_server("--model_dir", str(iris.joblib_dir), "--predict_proba", "true")
    rows = iris.features[ROWS]
    predictions = httpx.post(server.predict_url, json={"instances": rows.tolist()}).json()["predictions"]
    np.testing.assert_allclose(predictions, iris.estimator.predict_proba(rows))


def test_onnx_model_over_binary_v2(start_server: ServerFactory, iris: Iris, tmp_path: Path) -> None:
    onnx_model = to_onnx(iris.estimator, iris.features[:1].astype(np.float32), options={"zipmap": False})
    (tmp_path / "model.onnx").write_bytes(onnx_model.SerializeToString())
    server = start_server("--model_dir", str(tmp_path))
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    rows = iris.features[ROWS].astype(np.float32)
    tensor = triton.InferInput("X", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)
    outputs = [triton.InferRequestedOutput("label"), triton.InferRequestedOutput("probabilities")]
    result = client.infer("iris", [tensor], outputs=outputs)
    np.testing.assert_array_equal(result.as_numpy("label"), iris.estimator.predict(rows))
    assert result.as_numpy("probabilities").dtype == np.float32


def test_column_model_takes_rows_objects_columns_and_tables(
    start_server: ServerFactory, column_model: Path, iris: Iris
) -> None:
    server = start_server("--model_dir", str(column_model))
    rows = iris.features[ROWS]
    expected = iris.estimator.predict(rows).tolist()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

    by_position = httpx.post(server.predict_url, json={"instances": rows.tolist()}).json()
    objects = [dict(zip(names, row, strict=True)) for row in rows.tolist()]
    by_name = httpx.post(server.predict_url, json={"instances": objects})
    assert by_position == by_name.json() == {"predictions": expected}

    per_column = {
        "inputs": [
            {"name": name, "shape": [len(rows)], "datatype": "FP64", "data": rows[:, i].tolist()}
            for i, name in enumerate(names)
        ]
    }
    table = {"inputs": [{"name": "t", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}]}
    for request in (per_column, table):
        assert httpx.post(server.infer_url, json=request).json()["outputs"][0]["data"] == expected

    missing = httpx.post(server.predict_url, json={"instances": [{"sepal_length": 1.0}]})
    assert missing.status_code == 400
    assert "instances[0] lacks 'sepal_width'" in missing.json()["error"]
    metadata = httpx.get(f"{server.url}/v2/models/iris").json()
    assert [tensor["name"] for tensor in metadata["inputs"]] == names
