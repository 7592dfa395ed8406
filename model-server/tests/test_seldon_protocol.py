"""Seldon Core's protocol over real HTTP: SeldonMessages on the external API and /predict, the
answers equal to the v1 endpoint's, Seldon-style 4xx for bad messages, and Seldon's own client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.support.model_server import Iris, Server

ROWS = [0, 55, 120, 149]
SELDON_PYTHON = Path(__file__).resolve().parents[2] / ".tools" / "seldon" / "bin" / "python"
CLIENT_SCRIPT = Path(__file__).resolve().parents[2] / "tests" / "support" / "seldon_client_calls.py"


def v1_predictions(server: Server, rows: list[list[float]]) -> list[int]:
    answer = httpx.post(server.predict_url, json={"instances": rows})
    assert answer.status_code == 200
    predictions: list[int] = answer.json()["predictions"]
    return predictions


@pytest.mark.parametrize("path", ["/api/v1.0/predictions", "/predict"])
def test_ndarray_and_tensor_answers_equal_v1(iris_server: Server, iris: Iris, path: str) -> None:
    rows = iris.features[ROWS].tolist()
    expected = v1_predictions(iris_server, rows)
    ndarray = httpx.post(f"{iris_server.url}{path}", json={"data": {"names": ["a", "b", "c", "d"], "ndarray": rows}})
    assert ndarray.status_code == 200
    assert ndarray.json()["data"] == {"names": [], "ndarray": expected}
    flat = np.ravel(rows).tolist()
    message = {"data": {"tensor": {"shape": [4, 4], "values": flat}}, "meta": {"puid": "p-1"}}
    tensor = httpx.post(f"{iris_server.url}{path}", json=message)
    assert tensor.status_code == 200
    answer = tensor.json()
    assert answer["data"] == {"names": [], "tensor": {"shape": [4], "values": expected}}
    assert answer["meta"]["puid"] == "p-1"
    assert list(answer["meta"]["requestPath"]) == ["iris"]


def test_json_data_and_form_encoded_bodies(iris_server: Server, iris: Iris) -> None:
    rows = iris.features[ROWS].tolist()
    expected = v1_predictions(iris_server, rows)
    for json_data in ({"instances": rows}, rows):
        answer = httpx.post(f"{iris_server.url}/api/v1.0/predictions", json={"jsonData": json_data})
        assert answer.status_code == 200
        assert answer.json()["jsonData"] == {"predictions": expected}
    # Seldon's microservice API takes the message in a form field named json.
    form = httpx.post(f"{iris_server.url}/predict", data={"json": json.dumps({"data": {"ndarray": rows}})})
    assert form.status_code == 200
    assert form.json()["data"]["ndarray"] == expected


BAD_MESSAGES = [
    # (id, body, fragment of status.info)
    ("no-data", {"meta": {}}, "request has no 'data' or 'jsonData'"),
    ("empty-data", {"data": {"names": []}}, "'data' has no 'ndarray' or 'tensor'"),
    ("ragged-ndarray", {"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2], [1, 2]]}}, "data.ndarray[1] has 2 values but"),
    ("strings", {"data": {"ndarray": [[5.1, "wide", 1.4, 0.2]]}}, "data.ndarray[0][1] is the string 'wide'"),
    ("wrong-feature-count", {"data": {"ndarray": [[5.1, 3.5, 1.4]]}}, "data.ndarray rows have 3 features"),
    ("tensor-shape", {"data": {"tensor": {"shape": [2, 4], "values": [1, 2, 3, 4]}}}, "needs 8 values"),
    ("tensor-strings", {"data": {"tensor": {"shape": [1, 1], "values": ["a"]}}}, "tensor values are numbers"),
    ("str-data", {"strData": "5.1,3.5,1.4,0.2"}, "'strData' is not accepted"),
    ("unknown-field", {"data": {"ndarray": [[1, 2, 3, 4]]}, "instances": []}, "'instances' is not a SeldonMessage"),
    ("empty-rows", {"data": {"ndarray": []}}, "data.ndarray is empty"),
    ("not-an-object", [[5.1, 3.5, 1.4, 0.2]], "must be a SeldonMessage object"),
]


@pytest.mark.parametrize(("body", "fragment"), [case[1:] for case in BAD_MESSAGES], ids=[c[0] for c in BAD_MESSAGES])
def test_bad_messages_are_a_seldon_style_400(iris_server: Server, iris: Iris, body: object, fragment: str) -> None:
    answer = httpx.post(f"{iris_server.url}/api/v1.0/predictions", json=body)
    assert answer.status_code == 400
    status = answer.json()["status"]
    assert (status["code"], status["reason"], status["status"]) == (400, "MICROSERVICE_BAD_DATA", "FAILURE")
    assert fragment in status["info"]
    rows = iris.features[:1].tolist()
    assert httpx.post(f"{iris_server.url}/predict", json={"data": {"ndarray": rows}}).status_code == 200


def test_malformed_json_and_form_are_seldon_style(iris_server: Server) -> None:
    for body in (b'{"data": {"ndarray": [[5.1', b"json=%ZZ&json", b"json=", b"json=&x=1"):
        answer = httpx.post(f"{iris_server.url}/predict", content=body)
        assert answer.status_code == 400
        assert answer.json()["status"]["code"] == 400
    assert httpx.get(f"{iris_server.url}/health/ping").text == "pong"


def test_seldons_own_client_gets_v1s_predictions(iris_server: Server, iris: Iris) -> None:
    if not SELDON_PYTHON.exists():
        pytest.skip(f"{SELDON_PYTHON} is missing: `make setup` makes it where Python 3.12 or newer is installed")
    rows = iris.features[ROWS].tolist()
    expected = v1_predictions(iris_server, rows)
    endpoint = iris_server.url.removeprefix("http://")
    result = subprocess.run(
        [str(SELDON_PYTHON), str(CLIENT_SCRIPT), endpoint, json.dumps(rows)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    calls = json.loads(result.stdout.splitlines()[-1])
    for kind in ("ndarray", "tensor"):
        for api in ("external", "microservice"):
            call = calls[f"{api}-{kind}"]
            assert call["success"], call
            data = call["response"]["data"]
            values = data["ndarray"] if kind == "ndarray" else data["tensor"]["values"]
            assert [int(v) for v in values] == expected, (api, kind)
    refused = calls["external-wrong-features"]
    assert not refused["success"]
    assert refused["msg"].startswith("400:")
    assert "expects 4" in refused["response"]["status"]["info"]
    assert sys.executable != str(SELDON_PYTHON)  # seldon-core never shares the project's environment
