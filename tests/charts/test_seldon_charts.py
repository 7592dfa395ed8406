"""The charts with a `backend` render the same pattern as Seldon's resources: Seldon Core 1's
SeldonDeployment running the kit's server (a shadow predictor, weighted predictors, nested chains,
a COMBINER), Seldon Core 2's Models with an Experiment or a Pipeline; what Seldon cannot do is
refused at render time with the value named. (Strict validation of every object against the CRDs
is the harness's, over each chart's ci/*-seldon-* scenarios.)"""

from __future__ import annotations

from typing import Any

import pytest

from mlpatterns.charts.rendering import ChartError, render
from mlpatterns.paths import charts_dir
from tests.charts.scenarios import objects, one

V1 = {"backend": "seldon-core-v1"}
V2 = {"backend": "seldon-core-v2"}
MODEL = {"uri": "s3://models/iris", "format": "sklearn"}
HARD_MODELS = [{"name": n, "model": {**MODEL, "version": n}, "weight": w, "dependency": "Hard"}
               for n, w in (("logistic", 2), ("tree", 1))]  # fmt: skip
CHAIN = [{"model": "screen"}, {"model": "classify", "data": "$response", "mapPredictionsToInstances": True}]


def rendered(chart: str, values: dict[str, Any]) -> list[Any]:
    return render(charts_dir() / chart, values)


def kinds(manifests: list[Any]) -> set[str]:
    return {m.kind for m in manifests}


def container_args(container: dict[str, Any]) -> dict[str, str]:
    return dict(arg.removeprefix("--").split("=", 1) for arg in container["args"] if "=" in arg)


def test_shadow_ab_on_seldon_core_1_is_a_shadow_predictor_mirrored_a_share() -> None:
    manifests = rendered("shadow-ab", {**V1, "mirror": {"percent": 30}, "monitoring": {"enabled": True}})
    assert not kinds(manifests) & {"InferenceService", "VirtualService", "HTTPRoute", "ServingRuntime"}
    deployment = one(manifests, "SeldonDeployment")["spec"]
    primary, shadow = deployment["predictors"]
    assert (primary["name"], primary["traffic"], primary.get("shadow")) == ("primary", 100, None)
    assert (shadow["name"], shadow["traffic"], shadow["shadow"]) == ("shadow", 30, True)
    (container,) = shadow["componentSpecs"][0]["spec"]["containers"]
    args = container_args(container)
    assert (container["name"], shadow["graph"]["name"]) == ("iris", "iris")  # the node is its container
    assert (args["role"], args["model_version"], args["prediction_log_sink"]) == ("shadow", "candidate", "redis")
    assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    # Both logs are compared as on KServe: the comparison and its Redis, which admits Seldon's pods.
    assert "compare" in {d["metadata"]["name"].rsplit("-", 1)[-1] for d in objects(manifests, "Deployment")}
    assert shadow["labels"]["component"] == "predictor"
    monitor = next(m for m in objects(manifests, "PodMonitor") if m["metadata"]["name"] == "demo-shadow-ab")
    assert monitor["spec"]["selector"]["matchLabels"]["mlpatterns.dev/backend"] == "seldon-core-v1"
    assert monitor["spec"]["podMetricsEndpoints"][0]["portNumber"] == 8080  # the executor names a port http too


def test_shadow_ab_on_seldon_core_2_is_an_experiment_with_a_mirror() -> None:
    manifests = rendered("shadow-ab", {**V2, "compare": {"enabled": False}, "mirror": {"percent": 25}})
    models = {m["metadata"]["name"]: m["spec"] for m in objects(manifests, "Model")}
    assert set(models) == {"demo-shadow-ab-primary", "demo-shadow-ab-shadow"}
    assert models["demo-shadow-ab-shadow"]["requirements"] == ["sklearn"]
    experiment = one(manifests, "Experiment")["spec"]
    assert experiment == {"default": "demo-shadow-ab-primary", "resourceType": "model",
                          "candidates": [{"name": "demo-shadow-ab-primary", "weight": 100}],
                          "mirror": {"name": "demo-shadow-ab-shadow", "percent": 25}}  # fmt: skip
    assert "StatefulSet" not in kinds(manifests)  # no Redis: nothing writes the kit's prediction log


def test_online_ab_weights_become_predictor_traffic_or_experiment_candidates() -> None:
    seldon_1 = one(rendered("online-ab", {**V1, "override": {"header": ""}}), "SeldonDeployment")["spec"]
    assert [(p["name"], p["traffic"]) for p in seldon_1["predictors"]] == [("primary", 90), ("canary", 10)]
    assert seldon_1["protocol"] == "seldon"
    experiment = one(rendered("online-ab", {**V2, "override": {"header": ""}}), "Experiment")["spec"]
    assert experiment["candidates"] == [{"name": "demo-online-ab-primary", "weight": 90},
                                        {"name": "demo-online-ab-canary", "weight": 10}]  # fmt: skip


def test_seldon_core_1_over_v2_names_each_server_after_its_node() -> None:
    values = {
        **V1,
        "seldon": {"protocol": "v2", "requirements": [], "memory": "1Gi", "server": ""},
        "models": [{"name": "screen", "model": MODEL}, {"name": "classify", "model": MODEL}],
        "sequence": CHAIN,
    }
    deployment = one(rendered("microservice-vertical", values), "SeldonDeployment")["spec"]
    assert deployment["protocol"] == "v2"
    names = [
        container_args(c["spec"]["containers"][0])["model_name"] for c in deployment["predictors"][0]["componentSpecs"]
    ]
    assert names == ["screen", "classify"]  # the executor calls /v2/models/<node>/infer


def test_vertical_chain_is_a_nested_graph_or_a_pipeline() -> None:
    (predictor,) = one(rendered("microservice-vertical", {**V1, "sequence": CHAIN}), "SeldonDeployment")["spec"][
        "predictors"
    ]
    graph = predictor["graph"]
    assert (graph["name"], [c["name"] for c in graph["children"]], graph["children"][0]["children"]) == (
        "screen", ["classify"], [])  # fmt: skip
    # Each model in pods of its own (every server listens on 8080), as with one InferenceService each.
    assert [s["spec"]["containers"][0]["name"] for s in predictor["componentSpecs"]] == ["screen", "classify"]
    sequence = [{"model": "screen"}, {"model": "classify", "data": "$request"}]
    pipeline = one(rendered("microservice-vertical", {**V2, "sequence": sequence}), "Pipeline")
    assert pipeline["spec"]["steps"] == [
        {"name": "demo-microservice-vertical-screen"},
        {"name": "demo-microservice-vertical-classify", "inputs": ["demo-microservice-vertical.inputs"]},
    ]
    assert pipeline["spec"]["output"] == {"steps": ["demo-microservice-vertical-classify"]}
    chained = one(rendered("microservice-vertical", {**V2, "sequence": CHAIN}), "Pipeline")["spec"]["steps"][1]
    assert chained["inputs"] == ["demo-microservice-vertical-screen.outputs"]


def test_horizontal_is_a_combiner_of_the_aggregator_or_a_pipeline_of_every_output() -> None:
    manifests = rendered("microservice-horizontal", {**V1, "models": HARD_MODELS})
    (predictor,) = one(manifests, "SeldonDeployment")["spec"]["predictors"]
    graph = predictor["graph"]
    assert (graph["name"], graph["type"], [c["name"] for c in graph["children"]]) == (
        "aggregator", "COMBINER", ["logistic", "tree"])  # fmt: skip
    aggregator = predictor["componentSpecs"][-1]["spec"]["containers"][0]
    assert aggregator["args"][0] == "aggregate"
    assert container_args(aggregator)["steps"] == "logistic,tree"  # the order the executor sends answers in
    pipeline = one(rendered("microservice-horizontal", {**V2, "aggregator": {"method": "all"}}), "Pipeline")["spec"]
    assert pipeline["output"]["stepsJoin"] == "outer"  # the default's Soft models: what arrives in time
    assert pipeline["output"]["tensorMap"]["demo-microservice-horizontal-tree.outputs.predict"] == "tree"


def test_helm_tests_speak_the_backends_protocol_at_its_endpoint() -> None:
    def env(chart: str, values: dict[str, Any]) -> dict[str, str]:
        pod = next(p for p in objects(rendered(chart, values), "Pod") if p["metadata"]["name"].endswith("-test"))
        return {e["name"]: e.get("value", "") for e in pod["spec"]["containers"][0]["env"]}

    seldon_1 = env("shadow-ab", V1)
    assert (seldon_1["URL"], seldon_1["PROTOCOL"]) == (
        "http://demo-shadow-ab-primary.mlpatterns.svc:8000/api/v1.0/predictions", "seldon")  # fmt: skip
    seldon_2 = env("microservice-horizontal", {**V2, "aggregator": {"method": "all"}})
    assert seldon_2["PROTOCOL"] == "v2"
    assert seldon_2["HEADERS"] == '{"seldon-model":"demo-microservice-horizontal.pipeline"}'


REFUSED = [
    ("shadow-ab", {**V2}, "set compare.enabled=false"),
    ("shadow-ab", {**V1, "trafficRouter": "gateway-api"}, "trafficRouter gateway-api routes KServe's"),
    ("shadow-ab", {**V1, "mesh": {"enabled": True}}, "mesh.enabled writes Istio policies"),
    (
        "shadow-ab",
        {**V1, "primary": {"model": {"uri": "pvc://models/iris", "format": "sklearn"}}},
        "primary.model.uri is pvc://models/iris",
    ),
    (
        "shadow-ab",
        {**V2, "compare": {"enabled": False}, "primary": {"model": {"uri": "models:/iris/1", "format": "sklearn"}}},
        "Seldon Core 2's servers fetch artifacts themselves",
    ),
    ("online-ab", {**V1}, "Seldon Core 1 has no sticky or forced route"),
    ("online-ab", {**V2}, "x-seldon-route"),
    ("microservice-vertical", {**V1}, "sequence[1].condition: a Seldon chain runs every step"),
    (
        "microservice-vertical",
        {**V1, "sequence": [{"model": "screen"}, {"model": "classify"}]},
        "sequence[1].data is $request: Seldon Core 1 sends each model's answer to the next",
    ),
    (
        "microservice-vertical",
        {**V2, "sequence": [{"model": "screen"}, {"model": "screen", "data": "$response"}]},
        "sequence[1]: screen is already a step",
    ),
    (
        "microservice-vertical",
        {**V2, "sequence": [{"model": "screen"}, {"model": "classify", "dependency": "Soft"}]},
        "sequence[1].dependency Soft",
    ),
    ("microservice-horizontal", {**V1}, "models[1].dependency Soft: a Seldon Core 1 COMBINER needs every child"),
    ("microservice-horizontal", {**V2}, "aggregator.method vote needs the kit's aggregator"),
]


@pytest.mark.parametrize(("chart", "values", "message"), REFUSED, ids=[f"{c}:{m[:30]}" for c, _, m in REFUSED])
def test_what_seldon_cannot_do_is_refused_with_the_value_named(
    chart: str, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ChartError) as refused:
        rendered(chart, values)
    assert message in str(refused.value)
