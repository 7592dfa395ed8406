"""The InferenceGraph charts render the graph KServe's router runs (microservice-vertical's
Sequence, microservice-horizontal's Ensemble and aggregator, condition-based's Switch, online-ab's
Splitter), and values that cannot work are refused at render time with the value named."""

from __future__ import annotations

from typing import Any

import pytest

from mlpatterns.charts.rendering import ChartError, render
from mlpatterns.paths import charts_dir
from tests.charts.scenarios import objects, one

MODEL = {"uri": "s3://models/iris", "format": "sklearn"}


def rendered(chart: str, values: dict[str, Any] | None = None) -> list[Any]:
    return render(charts_dir() / chart, values or {})


def nodes(chart: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    return dict(one(rendered(chart, values), "InferenceGraph")["spec"]["nodes"])


def test_vertical_is_a_sequence_of_its_models_each_an_inference_service() -> None:
    manifests = rendered("microservice-vertical")
    isvcs = [isvc["metadata"]["name"] for isvc in objects(manifests, "InferenceService")]
    assert isvcs == ["demo-microservice-vertical-screen", "demo-microservice-vertical-classify"]
    assert nodes("microservice-vertical") == {"root": {"routerType": "Sequence", "steps": [
        {"name": "screen", "serviceName": "demo-microservice-vertical-screen"},
        {"name": "classify", "serviceName": "demo-microservice-vertical-classify", "data": "$request",
         "condition": "predictions.#(!=0)", "dependency": "Hard"},
    ]}}  # fmt: skip
    graph = one(manifests, "InferenceGraph")
    assert graph["spec"]["routerTimeouts"] == {"serviceClient": 30}
    assert graph["spec"]["serviceAccountName"] == "demo-microservice-vertical"  # the mesh admits its calls


def test_vertical_feature_chain_sends_each_answer_on_as_instances() -> None:
    values = {"models": [{"name": "embed", "model": MODEL}, {"name": "classify", "model": MODEL}],
              "sequence": [{"model": "embed"}, {"model": "classify", "data": "$response",
                                                "mapPredictionsToInstances": True}]}  # fmt: skip
    second = nodes("microservice-vertical", values)["root"]["steps"][1]
    assert second == {"name": "classify", "serviceName": "demo-microservice-vertical-classify", "data": "$response",
                      "mapPredictionsToInstances": True}  # fmt: skip


def test_horizontal_is_an_ensemble_then_the_aggregator_sent_its_answer() -> None:
    manifests = rendered("microservice-horizontal")
    found = nodes("microservice-horizontal")
    assert found["root"]["steps"] == [
        {"name": "ensemble", "nodeName": "ensemble", "dependency": "Hard"},
        {"name": "aggregator", "serviceName": "demo-microservice-horizontal-aggregator", "data": "$response",
         "dependency": "Hard"},
    ]  # fmt: skip
    assert [(s["name"], s["dependency"]) for s in found["ensemble"]["steps"]] == [
        ("logistic", "Hard"), ("tree", "Soft"), ("forest", "Soft")]  # fmt: skip
    aggregator = next(i for i in objects(manifests, "InferenceService") if i["metadata"]["name"].endswith("aggregator"))
    container = aggregator["spec"]["predictor"]["containers"][0]
    assert container["args"][:6] == [
        "aggregate",
        "--model_name=iris",
        "--role=aggregator",
        "--method=vote",
        "--steps=logistic,tree,forest",
        '--weights={"forest":1,"logistic":2,"tree":1}',
    ]
    assert "--min_answers=2" in container["args"]


def test_horizontal_mean_passes_no_weights_and_weighted_mean_all_of_them() -> None:
    def args(method: str) -> list[str]:
        manifests = rendered("microservice-horizontal", {"aggregator": {"method": method}})
        aggregator = next(i for i in objects(manifests, "InferenceService") if "aggregator" in i["metadata"]["name"])
        return list(aggregator["spec"]["predictor"]["containers"][0]["args"])

    assert not any(arg.startswith("--weights") for arg in args("mean"))
    assert '--weights={"forest":1,"logistic":2,"tree":1}' in args("weighted-mean")


def test_condition_based_body_routes_are_a_switch_after_the_header_routes() -> None:
    values = {"routes": [{"name": "eu", "match": {"headers": {"x-region": "eu"}}, "model": MODEL},
                         {"name": "long", "match": {"body": "instances.#(0>6)"}, "model": MODEL},
                         {"name": "wide", "match": {"body": "instances.#(3>2)"}, "use": "eu"}]}  # fmt: skip
    manifests = rendered("condition-based", values)
    graph = one(manifests, "InferenceGraph")
    assert graph["metadata"]["name"] == "demo-condition-based-graph"
    assert graph["spec"]["nodes"]["root"] == {"routerType": "Switch", "steps": [
        {"name": "long", "serviceName": "demo-condition-based-long", "condition": "instances.#(0>6)"},
        {"name": "wide", "serviceName": "demo-condition-based-eu", "condition": "instances.#(3>2)"},
        {"name": "default", "serviceName": "demo-condition-based-default", "condition": "@this"},
    ]}  # fmt: skip
    http = one(manifests, "VirtualService")["spec"]["http"]
    assert [route["name"] for route in http] == ["eu", "default"]
    assert http[-1]["route"][0]["destination"]["host"] == "demo-condition-based-graph.mlpatterns.svc.cluster.local"
    assert objects(rendered("condition-based"), "InferenceGraph") == []  # header routes alone need no graph


def test_online_ab_inferencegraph_is_a_splitter_by_the_variants_weights() -> None:
    manifests = rendered("online-ab", {"trafficRouter": "inferencegraph", "override": {"header": ""}})
    assert one(manifests, "InferenceGraph")["spec"]["nodes"] == {"root": {"routerType": "Splitter", "steps": [
        {"name": "primary", "serviceName": "demo-online-ab-primary", "weight": 90},
        {"name": "canary", "serviceName": "demo-online-ab-canary", "weight": 10},
    ]}}  # fmt: skip
    assert objects(manifests, "VirtualService") == []
    assert objects(manifests, "Service") == []


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("microservice-vertical", {"sequence": []}, "at 'sequence'"),
    ("microservice-vertical", {"sequence": [{"model": "screen"}]}, "at 'sequence'"),
    ("microservice-vertical", {"sequence": [{"model": "screen"}, {"model": "rank"}]},
     'sequence[1] names the model "rank", which is not in models (those are: screen, classify)'),
    ("microservice-vertical",
     {"sequence": [{"model": "screen", "condition": "predictions.#(>0)"}, {"model": "classify"}]},
     "sequence[0] is the first step: there is no answer before it"),
    ("microservice-vertical", {"sequence": [{"model": "screen", "data": "$response"}, {"model": "classify"}]},
     "sequence[0] is the first step"),
    ("microservice-vertical", {"sequence": [{"model": "screen"}, {"model": "classify", "data": "$answer"}]},
     "at 'sequence[1].data'"),
    ("microservice-vertical", {"models": [{"name": "screen", "model": MODEL}, {"name": "screen", "model": MODEL}]},
     'models: "screen" is given twice'),
    ("microservice-vertical", {"router": {"minReplicas": 4, "maxReplicas": 2}}, "router.minReplicas (4) is above"),
    ("microservice-horizontal", {"models": [{"name": "aggregator", "model": MODEL, "weight": 1, "dependency": "Hard"},
                                            {"name": "b", "model": MODEL, "weight": 1, "dependency": "Soft"}]},
     "models: aggregator is the aggregator's own name"),
    ("microservice-horizontal", {"aggregator": {"minAnswers": 4}},
     "aggregator.minAnswers is 4, but there are 3 models"),
    ("microservice-horizontal", {"aggregator": {"method": "median"}}, "at 'aggregator.method'"),
    ("microservice-horizontal", {"models": [{"name": "a", "model": MODEL, "weight": 1, "dependency": "Maybe"},
                                            {"name": "b", "model": MODEL, "weight": 1, "dependency": "Soft"}]},
     "at 'models[0].dependency'"),
    ("condition-based", {"default": None}, "missing property 'default'"),
    ("condition-based",
     {"routes": [{"name": "x", "match": {"body": "instances.#(0>6)", "headers": {"x-a": "b"}}, "model": MODEL}]},
     "route x matches on the body and on headers or a path"),
    ("condition-based", {"routes": [{"name": "x", "match": {"body": ""}, "model": MODEL}]},
     "at 'routes[0].match.body'"),
    ("online-ab",
     {"trafficRouter": "inferencegraph", "override": {"header": ""},
      "variants": [{"name": "a", "weight": 70, "model": MODEL}, {"name": "b", "weight": 20, "model": MODEL}]},
     "variants[].weight sum to 90, not 100 (a 70, b 20)"),
    ("online-ab", {"trafficRouter": "inferencegraph"},
     "trafficRouter inferencegraph: KServe's router splits by weight"),
]  # fmt: skip


@pytest.mark.parametrize(("chart", "values", "message"), REFUSED, ids=[f"{c}:{m[:40]}" for c, _, m in REFUSED])
def test_values_that_cannot_work_are_refused_with_the_value_named(chart: str, values: dict[str, Any],
                                                                   message: str) -> None:  # fmt: skip
    with pytest.raises(ChartError) as refused:
        rendered(chart, values)
    assert message in str(refused.value)
