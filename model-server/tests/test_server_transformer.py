"""Transformer mode (preprocess-prediction): the server preprocesses with a fitted scikit-learn
transformer in its own process and the predictor, another server, predicts; as KServe wires a
transformer to its predictor with --predictor_host."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from tests.support.model_server import Iris, Server, ServerFactory
from tests.support.processes import free_port
from tests.support.receivers import start_receiver


@pytest.fixture
def pair(
    start_server: ServerFactory, iris: Iris, tmp_path: Path
) -> tuple[Server, Server, StandardScaler, LogisticRegression]:
    """A scaler served as the transformer in front of a classifier trained on scaled features."""
    scaler = StandardScaler().fit(iris.features)
    classifier = LogisticRegression(max_iter=1000).fit(scaler.transform(iris.features), iris.labels)
    (tmp_path / "pre").mkdir()
    (tmp_path / "clf").mkdir()
    joblib.dump(scaler, tmp_path / "pre" / "scaler.joblib")
    joblib.dump(classifier, tmp_path / "clf" / "model.joblib")
    predictor = start_server("--model_dir", str(tmp_path / "clf"), "--role", "candidate", "--model_version", "3")
    transformer = start_server(
        "--model_dir", str(tmp_path / "pre"), "--predictor_host", predictor.url.removeprefix("http://")
    )
    return transformer, predictor, scaler, classifier


def test_v1_goes_through_preprocessing_to_the_predictor(
    pair: tuple[Server, Server, StandardScaler, LogisticRegression], iris: Iris
) -> None:
    transformer, _, scaler, classifier = pair
    rows = iris.features[::15]
    answer = httpx.post(transformer.predict_url, json={"instances": rows.tolist()}, headers={"x-request-id": "t-1"})
    assert answer.status_code == 200
    assert answer.json() == {"predictions": classifier.predict(scaler.transform(rows)).tolist()}
    # The model that answered is the predictor's, not the transformer's.
    assert (answer.headers["x-mlpatterns-role"], answer.headers["x-mlpatterns-model-version"]) == ("candidate", "3")


def test_v2_goes_through_too(pair: tuple[Server, Server, StandardScaler, LogisticRegression], iris: Iris) -> None:
    transformer, _, scaler, classifier = pair
    rows = iris.features[::15]
    request = {"inputs": [{"name": "x", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}]}
    # The transformer speaks v1 to the predictor by default; a v2 client still gets the predictions.
    answer = httpx.post(transformer.infer_url, json=request)
    assert answer.json() == {"predictions": classifier.predict(scaler.transform(rows)).tolist()}


def test_the_transformer_checks_inputs_before_forwarding(
    pair: tuple[Server, Server, StandardScaler, LogisticRegression],
) -> None:
    transformer, predictor, _, _ = pair
    refused = httpx.post(transformer.predict_url, json={"instances": [[1.0, 2.0]]})
    assert refused.status_code == 400
    assert "rows have 2 features; model 'iris' expects 4" in refused.json()["error"]
    metrics = httpx.get(f"{predictor.url}/metrics").text
    assert 'code="400"' not in metrics, "the bad request never reached the predictor"


def test_v2_between_transformer_and_predictor(start_server: ServerFactory, iris: Iris, tmp_path: Path) -> None:
    scaler = StandardScaler().fit(iris.features)
    classifier = LogisticRegression(max_iter=1000).fit(scaler.transform(iris.features), iris.labels)
    for folder, artifact in (("pre", scaler), ("clf", classifier)):
        (tmp_path / folder).mkdir()
        joblib.dump(artifact, tmp_path / folder / "model.joblib")
    predictor = start_server("--model_dir", str(tmp_path / "clf"), "--role", "candidate", "--model_version", "3")
    transformer = start_server("--model_dir", str(tmp_path / "pre"), "--predictor_protocol", "v2",
                               "--predictor_host", predictor.url.removeprefix("http://"))  # fmt: skip
    answer = httpx.post(transformer.predict_url, json={"instances": iris.features[:3].tolist()}).json()
    assert answer["model_name"] == "iris"
    np.testing.assert_array_equal(answer["outputs"][0]["data"], classifier.predict(scaler.transform(iris.features[:3])))


def test_an_unreachable_predictor_is_a_502_that_says_where(
    start_server: ServerFactory, iris: Iris, tmp_path: Path
) -> None:
    joblib.dump(StandardScaler().fit(iris.features), tmp_path / "scaler.joblib")
    host = f"127.0.0.1:{free_port()}"
    transformer = start_server("--model_dir", str(tmp_path), "--predictor_host", host)
    answer = httpx.post(transformer.predict_url, json={"instances": iris.features[:1].tolist()})
    assert answer.status_code == 502
    assert f"the predictor at http://{host} is unreachable" in answer.json()["error"]


def test_tracing_and_auth_headers_reach_the_predictor_and_nothing_else(
    start_server: ServerFactory, iris: Iris, tmp_path: Path
) -> None:
    receiver = start_receiver()  # a real HTTP server standing in for the predictor, recording what it gets
    try:
        (tmp_path / "pre").mkdir()
        joblib.dump(StandardScaler().fit(iris.features), tmp_path / "pre" / "scaler.joblib")
        host = receiver.url.removeprefix("http://").rstrip("/")
        transformer = start_server("--model_dir", str(tmp_path / "pre"), "--predictor_host", host)
        sent = {
            "x-request-id": "trace-me-1",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "tracestate": "vendor=1",
            "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7",
            "x-b3-spanid": "e457b5a2e4d86bd1",
            "authorization": "Bearer token-1",
            "cookie": "session=secret",
            "x-internal": "do-not-forward",
        }
        httpx.post(transformer.predict_url, json={"instances": [[5.1, 3.5, 1.4, 0.2]]}, headers=sent)
        (got,) = receiver.received
        forwarded = {"x-request-id", "traceparent", "tracestate", "x-b3-traceid", "x-b3-spanid", "authorization"}
        assert {name: got.headers[name] for name in forwarded} == {name: sent[name] for name in forwarded}
        assert "cookie" not in got.headers
        assert "x-internal" not in got.headers
        assert (
            json.loads(got.body)["instances"]
            == StandardScaler().fit(iris.features).transform([[5.1, 3.5, 1.4, 0.2]]).tolist()
        )
    finally:
        receiver.close()
