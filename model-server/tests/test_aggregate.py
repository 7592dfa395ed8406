"""`mlpatterns-server aggregate`: an Ensemble's answers combined. The methods in-process against
what numpy computes from the same answers; the server as a real process for what crosses HTTP (its
errors, its metrics, its arguments)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

from mlpatterns_server.aggregate.combine import TooFewAnswers, Unaggregatable, combine, read_answers
from mlpatterns_server.errors import InvalidInput
from tests.support.model_server import Server, ServerFactory

STEPS = ["a", "b", "c"]


def aggregate(body: Any, method: str, weights: dict[str, float] | None = None, steps: list[str] = STEPS,
              min_answers: int = 1) -> dict[str, Any]:  # fmt: skip
    return combine(read_answers(body, steps), method, weights or {}, min_answers)


def v1(predictions: list[Any]) -> dict[str, Any]:
    return {"predictions": predictions}


def test_vote_takes_the_label_most_steps_answered_for_each_row() -> None:
    body = {"a": v1([0, 1, 2]), "b": v1([0, 2, 2]), "c": v1([1, 2, 0])}
    assert aggregate(body, "vote") == {"predictions": [0, 2, 2]}


def test_vote_weighs_and_a_tie_goes_to_the_earliest_step() -> None:
    body = {"c": v1([1, 1]), "b": v1([2, 0]), "a": v1([0, 0])}  # KServe's router sorts keys: order is --steps'
    assert aggregate(body, "vote") == {"predictions": [0, 0]}  # row 0: a tie of three, a is first
    assert aggregate(body, "vote", {"a": 1, "b": 1, "c": 3}) == {"predictions": [1, 1]}


def test_vote_counts_string_labels_and_refuses_lists() -> None:
    assert aggregate({"a": v1(["setosa"]), "b": v1(["virginica"]), "c": v1(["virginica"])}, "vote")["predictions"] == [
        "virginica"
    ]
    with pytest.raises(Unaggregatable, match="vote needs one label per row; step a answered list rows"):
        aggregate({"a": v1([[0.2, 0.8]]), "b": v1([1])}, "vote")


def test_mean_and_weighted_mean_equal_numpys() -> None:
    rng = np.random.default_rng(7)
    answers = {name: rng.random((5, 3)) for name in STEPS}
    body = {name: v1(array.tolist()) for name, array in answers.items()}
    mean = aggregate(body, "mean")["predictions"]
    np.testing.assert_allclose(mean, np.mean([answers[n] for n in STEPS], axis=0))
    weights = {"a": 3.0, "b": 1.0, "c": 0.5}
    weighted = aggregate(body, "weighted-mean", weights)["predictions"]
    np.testing.assert_allclose(weighted, np.average([answers[n] for n in STEPS], axis=0, weights=[3, 1, 0.5]))


def test_all_puts_each_rows_answers_side_by_side_by_step() -> None:
    body = {"a": v1([0, 1]), "b": v1([2, 1])}
    assert aggregate(body, "all", steps=["a", "b"]) == {"predictions": [{"a": 0, "b": 2}, {"a": 1, "b": 1}]}


def test_v2_answers_are_read_by_their_first_output_and_shape() -> None:
    v2 = {"outputs": [{"name": "proba", "shape": [2, 2], "datatype": "FP64", "data": [0.2, 0.8, 0.6, 0.4]}]}
    body = {"a": v2, "b": v1([[0.4, 0.6], [0.8, 0.2]])}
    np.testing.assert_allclose(aggregate(body, "mean", steps=["a", "b"])["predictions"], [[0.3, 0.7], [0.7, 0.3]])


def test_a_failed_soft_step_is_left_out_and_named_with_its_reason() -> None:
    body = {"a": v1([0]), "b": {"error": "predict step b failed: connect-failure"}, "c": v1([0])}
    assert aggregate(body, "vote", min_answers=2) == {
        "predictions": [0], "missing": {"b": "predict step b failed: connect-failure"}}  # fmt: skip
    with pytest.raises(TooFewAnswers, match=r"1 of the ensemble's steps answered, 2 are needed \(b: .*; c: not in"):
        aggregate({"a": v1([0]), "b": {"error": "down"}}, "vote", min_answers=2)


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ([1, 2], InvalidInput, "must be a JSON object of the ensemble's answers"),
        ({"x": v1([0])}, InvalidInput, "step 'x' is not one of this aggregator's steps (a, b, c)"),
        ({"a": v1([0, 1]), "b": v1([0])}, Unaggregatable, "different numbers of rows: {'a': 2, 'b': 1}"),
        ({"a": v1([[1, 2]]), "b": v1([[1, 2, 3]])}, Unaggregatable, "different shapes"),
        ({"a": v1(["x"]), "b": v1(["y"])}, Unaggregatable, "mean needs numbers; step a answered"),
    ],
)
def test_answers_that_cannot_be_combined_say_why(body: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        aggregate(body, "mean")
    assert message in str(raised.value)


@pytest.fixture(scope="module")
def aggregator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    factory = ServerFactory(tmp_path_factory.mktemp("aggregator"))
    yield factory("--method", "vote", "--steps", "a,b,c", "--weights", '{"a": 2}', "--min_answers", "2",
                  subcommand="aggregate")  # fmt: skip
    factory.close()


def test_the_aggregator_answers_over_http_with_its_identity(aggregator: Server) -> None:
    body = {"a": v1([0, 1]), "b": v1([1, 1]), "c": {"error": "down"}}
    answer = httpx.post(aggregator.predict_url, json=body, headers={"x-request-id": "agg-1"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": [0, 1], "missing": {"c": "down"}}
    assert answer.headers["x-mlpatterns-role"] == "aggregator"
    assert answer.headers["x-request-id"] == "agg-1"
    metrics = httpx.get(f"{aggregator.url}/metrics").text
    assert 'mlpatterns_aggregator_missing_answers_total{model="iris",step="c"} 1.0' in metrics
    assert 'mlpatterns_requests_total{code="200",model="iris",role="aggregator",version="vote"} 1.0' in metrics


def test_seldons_combiner_api_combines_the_childrens_messages_in_graph_order(aggregator: Server) -> None:
    messages = [
        {"data": {"names": [], "ndarray": [0, 1]}},
        {"data": {"names": [], "tensor": {"shape": [2], "values": [1, 1]}}},
        {"data": {"ndarray": [1, 0]}},
    ]
    answer = httpx.post(f"{aggregator.url}/aggregate", json={"seldonMessages": messages})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"data": {"names": [], "ndarray": [0, 1]}}  # a has weight 2
    # What Seldon's executor and SeldonClient send: the message list form-encoded under "json".
    form = httpx.post(f"{aggregator.url}/aggregate", data={"json": orjson.dumps({"seldonMessages": messages}).decode()})
    assert form.json() == answer.json()
    refused = httpx.post(f"{aggregator.url}/aggregate", json={"seldonMessages": messages[:2]})
    assert refused.status_code == 400
    assert refused.json()["status"]["info"] == "2 seldonMessages for 3 children (a, b, c)"


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v1/models/iris:predict", b"{", 400, "the body is not JSON"),
        ("/v1/models/iris:predict", b'{"a": {"error": "x"}}', 502, "0 of the ensemble's steps answered, 2 are needed"),
        ("/v1/models/other:predict", b"{}", 404, "model 'other' is not served here"),
        ("/v2/models/iris/infer", b"{}", 404, "the aggregator answers POST /v1/models/iris:predict"),
    ],
)
def test_bad_requests_get_a_4xx_or_502_that_says_what_is_wrong(
    aggregator: Server, path: str, body: bytes, status: int, message: str
) -> None:
    answer = httpx.post(f"{aggregator.url}{path}", content=body)
    assert answer.status_code == status
    assert message in answer.json()["error"]
    assert httpx.get(f"{aggregator.url}/v2/health/ready").status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "weighted-mean", "--steps", "a,b", "--weights", '{"a": 1}'], "b has none"),
        (["--steps", "a,b", "--weights", '{"z": 1}'], "--weights names z, which is not one of --steps"),
        (["--steps", "a", "--min_answers", "2"], "--min_answers 2 is more than the 1 steps"),
        (["--method", "median"], "--method"),
    ],
)
def test_arguments_that_cannot_work_are_refused_at_start(args: list[str], message: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mlpatterns_server", "aggregate", *args], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr
