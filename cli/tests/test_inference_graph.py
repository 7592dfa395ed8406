"""The local InferenceGraph router's decisions, in-process: each node type with KServe's semantics
(cmd/router/main.go), conditions evaluated as GJSON, and the steps' calls answered by small
functions that record what they were sent. The same router runs real processes in
tests/test_local_graphs.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from mlpatterns.local.inference_graph import Reply, Router, StepUnreachable, predict_urls, read_graph

Answer = Callable[[dict[str, Any]], tuple[int, Any]]


class Steps:
    """Each step's URL answered by a function of the body it is sent; every call recorded."""

    def __init__(self, **answers: Answer) -> None:
        self.answers = answers
        self.sent: list[tuple[str, Any]] = []

    async def __call__(self, url: str, body: bytes, headers: Mapping[str, str], seconds: float) -> Reply:
        name = url.split("//")[1].split(".")[0]
        self.sent.append((name, json.loads(body)))
        answer = self.answers[name]
        if answer is DOWN:
            raise StepUnreachable(503, "connect-failure: refused")
        status, document = answer(json.loads(body))
        return Reply(status, json.dumps(document).encode())

    def calls(self, name: str) -> list[Any]:
        return [body for called, body in self.sent if called == name]


def DOWN(body: dict[str, Any]) -> tuple[int, Any]:
    raise AssertionError("never called")


def graph(nodes: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"kind": "InferenceGraph", "metadata": {"name": "g"}, "spec": {"nodes": nodes, **spec}}


def step(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "serviceUrl": f"http://{name}.ns.svc.cluster.local/v1/models/m:predict", **fields}


def run(document: dict[str, Any], steps: Steps, body: Any, draw: float = 0.5) -> tuple[int, Any]:
    router = Router(read_graph(document, {}), steps, draw=lambda: draw)
    reply = asyncio.run(router.answer(json.dumps(body).encode(), {"x-request-id": "r1"}, 5.0))
    return reply.status, json.loads(reply.body)


def predicts(value: Any) -> Answer:
    return lambda body: (200, {"predictions": value(body) if callable(value) else value})


REQUEST = {"instances": [[5.1, 3.5, 1.4, 0.2], [6.8, 2.8, 4.8, 1.4]]}


def test_a_sequence_sends_each_step_the_answer_before_it_and_answers_with_the_last() -> None:
    steps = Steps(a=predicts([[1.0, 2.0], [3.0, 4.0]]), b=predicts(lambda body: [sum(r) for r in body["instances"]]))
    document = graph({"root": {"routerType": "Sequence", "steps": [
        step("a"), step("b", data="$response", mapPredictionsToInstances=True)]}})  # fmt: skip
    assert run(document, steps, REQUEST) == (200, {"predictions": [3.0, 7.0]})
    assert steps.calls("a") == [REQUEST]
    assert steps.calls("b") == [{"instances": [[1.0, 2.0], [3.0, 4.0]]}]


def test_a_step_without_data_response_is_sent_the_clients_request() -> None:
    steps = Steps(a=predicts([0, 1]), b=predicts([2, 2]))
    document = graph({"root": {"routerType": "Sequence", "steps": [step("a"), step("b")]}})
    assert run(document, steps, REQUEST) == (200, {"predictions": [2, 2]})
    assert steps.calls("b") == [REQUEST]


@pytest.mark.parametrize(("first", "b_runs"), [([0, 0], False), ([0, 1], True)])
def test_a_condition_on_the_answer_before_decides_whether_the_chain_goes_on(first: list[int], b_runs: bool) -> None:
    steps = Steps(a=predicts(first), b=predicts([2, 2]))
    document = graph({"root": {"routerType": "Sequence", "steps": [
        step("a"), step("b", condition="predictions.#(!=0)")]}})  # fmt: skip
    status, answer = run(document, steps, REQUEST)
    assert status == 200
    assert answer == ({"predictions": [2, 2]} if b_runs else {"predictions": first})
    assert len(steps.calls("b")) == (1 if b_runs else 0)


def test_a_hard_step_that_fails_ends_the_chain_with_its_status_and_name() -> None:
    steps = Steps(a=lambda body: (400, {"error": "expected 4 features"}), b=predicts([1]))
    document = graph({"root": {"routerType": "Sequence", "steps": [step("a", dependency="Hard"), step("b")]}})
    status, answer = run(document, steps, REQUEST)
    assert status == 400
    assert "root step a" in answer["error"]
    assert "expected 4 features" in answer["cause"]
    assert steps.calls("b") == []


def test_a_soft_step_that_fails_passes_its_answer_on() -> None:
    steps = Steps(a=lambda body: (500, {"error": "boom"}), b=lambda body: (200, {"seen": body}))
    document = graph({"root": {"routerType": "Sequence", "steps": [step("a"), step("b", data="$response")]}})
    assert run(document, steps, REQUEST) == (200, {"seen": {"error": "boom"}})


def test_a_switch_sends_each_request_to_the_first_step_whose_condition_exists_in_it() -> None:
    steps = Steps(long=predicts(["long"]), other=predicts(["other"]))
    document = graph({"root": {"routerType": "Switch", "steps": [
        step("long", condition="instances.#(0>6)"), step("other", condition="@this")]}})  # fmt: skip
    assert run(document, steps, {"instances": [[6.8, 2.8, 4.8, 1.4]]}) == (200, {"predictions": ["long"]})
    assert run(document, steps, {"instances": [[5.1, 3.5, 1.4, 0.2]]}) == (200, {"predictions": ["other"]})


def test_a_switch_with_no_matching_condition_is_a_404_as_in_kserve() -> None:
    document = graph({"root": {"routerType": "Switch", "steps": [step("a", condition="instances.#(0>9)")]}})
    status, answer = run(document, Steps(a=predicts([1])), REQUEST)
    assert status == 404
    assert answer == {
        "error": "Failed to process request",
        "cause": "None of the routes matched with the switch condition",
    }


def test_an_ensemble_answers_with_every_steps_answer_under_its_name_and_a_soft_failure_kept() -> None:
    steps = Steps(a=predicts([0, 1]), b=predicts([1, 1]), c=DOWN)
    document = graph(
        {"root": {"routerType": "Ensemble", "steps": [step("a"), step("b"), step("c", dependency="Soft")]}}
    )
    status, answer = run(document, steps, REQUEST)
    assert status == 200
    assert answer["a"] == {"predictions": [0, 1]}
    assert answer["b"] == {"predictions": [1, 1]}
    assert "c (http://c.ns.svc.cluster.local" in answer["c"]["error"]


def test_an_ensemble_fails_with_its_first_failed_hard_step() -> None:
    steps = Steps(a=predicts([0, 1]), b=DOWN)
    document = graph({"root": {"routerType": "Ensemble", "steps": [step("a"), step("b", dependency="Hard")]}})
    status, answer = run(document, steps, REQUEST)
    assert status == 503
    assert "step b" in answer["error"]
    assert "connect-failure" in answer["error"]


def test_an_ensemble_runs_its_steps_at_once() -> None:
    started: list[float] = []

    async def slow(url: str, body: bytes, headers: Mapping[str, str], seconds: float) -> Reply:
        started.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0.2)
        return Reply(200, b'{"predictions": [1]}')

    document = graph({"root": {"routerType": "Ensemble", "steps": [step("a"), step("b"), step("c")]}})
    router = Router(read_graph(document, {}), slow)
    asyncio.run(router.answer(b"{}", {}, 5.0))
    assert max(started) - min(started) < 0.1


def test_nodes_nest_a_sequence_of_an_ensemble_then_its_aggregator() -> None:
    steps = Steps(a=predicts([0]), b=predicts([1]), agg=lambda body: (200, {"got": sorted(body)}))
    document = graph({
        "root": {"routerType": "Sequence", "steps": [{"name": "ensemble", "nodeName": "ensemble", "dependency": "Hard"},
                                                      step("agg", data="$response")]},
        "ensemble": {"routerType": "Ensemble", "steps": [step("a"), step("b")]},
    })  # fmt: skip
    assert run(document, steps, REQUEST) == (200, {"got": ["a", "b"]})


@pytest.mark.parametrize(("draw", "picked"), [(0.0, "a"), (0.69, "a"), (0.70, "b"), (0.99, "b")])
def test_a_splitter_draws_one_step_by_weight(draw: float, picked: str) -> None:
    steps = Steps(a=predicts(["a"]), b=predicts(["b"]))
    document = graph({"root": {"routerType": "Splitter", "steps": [step("a", weight=70), step("b", weight=30)]}})
    assert run(document, steps, REQUEST, draw) == (200, {"predictions": [picked]})


def test_service_names_resolve_to_the_inference_services_predict_url() -> None:
    documents = [
        {"kind": "ServingRuntime", "metadata": {"name": "rt"}, "spec": {"protocolVersions": ["v2", "v1"]}},
        {"kind": "InferenceService", "metadata": {"name": "demo-a", "namespace": "ns"},
         "spec": {"predictor": {"model": {"runtime": "rt", "args": ["--model_name=iris"]}}}},
        {"kind": "InferenceService", "metadata": {"name": "demo-b", "namespace": "ns"},
         "spec": {"predictor": {"containers": [{"args": ["aggregate"]}]}}},
    ]  # fmt: skip
    assert predict_urls(documents, "other") == {
        "demo-a": "http://demo-a.ns.svc.cluster.local/v2/models/iris/infer",
        "demo-b": "http://demo-b.ns.svc.cluster.local/v1/models/demo-b:predict",
    }


def test_what_the_router_does_not_emulate_is_said() -> None:
    document = graph({"root": {"routerType": "Sequence", "steps": [step("a", extra=1)]}}, minReplicas=2,
                     resources={})  # fmt: skip
    notes = read_graph(document, {}).notes
    assert any("minReplicas" in note and "resources" in note for note in notes), notes
    assert any("steps[0].extra" in note for note in notes), notes
