"""What `mlpatterns up` would run for each chart, worked out in-process (no process starts): a
process per component with local ports, every in-cluster address of the chart made local, KServe's
injections, and a refusal that says what to give where a chart cannot run as it is."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from mlpatterns.charts.sync import pattern_charts
from mlpatterns.local.topology import PortPool, Topology
from mlpatterns.local.up import Request, plan

MODEL = "/models/iris"
# Each chart pointed at a local model, as its docs tell users to run it.
LOCAL: dict[str, dict[str, Any]] = {
    "web-single": {"model": {"uri": MODEL}},
    "synchronous": {"model": {"uri": MODEL}},
    "model-load": {"model": {"uri": MODEL}},
    "model-in-image": {},
    "preprocess-prediction": {"model": {"uri": MODEL}, "transformer": {"uri": "/models/scaler"}},
    "prediction-cache": {"model": {"uri": MODEL}},
    "prediction-log": {"model": {"uri": MODEL}, "collector": {"output": "/tmp/landed"}},
    "asynchronous": {"model": {"uri": MODEL}},
    "batch": {"model": {"uri": MODEL}, "input": {"uri": "/data/in.parquet"}, "output": {"uri": "/data/out"}},
    "batch-training": {},
    "shadow-ab": {"primary": {"model": {"uri": MODEL}}, "shadow": {"model": {"uri": "/models/iris-2"}}},
    "online-ab": {"variants": [{"name": "primary", "weight": 90, "model": {"uri": MODEL, "format": "sklearn"}},
                               {"name": "canary", "weight": 10, "model": {"uri": "/models/b", "format": "sklearn"}}]},
    "condition-based": {"routes": [{"name": "eu", "match": {"headers": {"x-region": "eu"}},
                                    "model": {"uri": "/models/eu", "format": "sklearn"}}],
                        "default": {"model": {"uri": MODEL, "format": "sklearn"}}},
    "microservice-vertical": {"models": [{"name": "screen", "model": {"uri": "/models/screen", "format": "sklearn"}},
                                         {"name": "classify", "model": {"uri": MODEL, "format": "sklearn"}}]},
    "microservice-horizontal": {"models": [
        {"name": "a", "model": {"uri": MODEL, "format": "sklearn"}, "weight": 1, "dependency": "Hard"},
        {"name": "b", "model": {"uri": "/models/b", "format": "sklearn"}, "weight": 1, "dependency": "Soft"}],
        "aggregator": {"minAnswers": 1}},
}  # fmt: skip
_ports = itertools.count(20000)


def topology(chart: str, values: dict[str, Any] | None = None, baked: Path | None = None) -> Topology:
    path = next(c for c in pattern_charts() if c.name == chart)
    given = LOCAL[chart] if values is None else values
    return plan(Request(path, given, baked_model=baked), Path("/tmp/up-test"), PortPool(lambda: next(_ports)))


def arguments(found: Topology, name: str) -> list[str]:
    return next(p.command for p in found.processes if p.name == name)


def test_every_chart_has_its_local_values_here() -> None:
    assert sorted(LOCAL) == sorted(chart.name for chart in pattern_charts())


@pytest.mark.parametrize("chart", sorted(LOCAL))
def test_every_chart_runs_here_with_its_addresses_made_local(chart: str) -> None:
    found = topology(chart, baked=Path(MODEL) if chart == "model-in-image" else None)
    assert found.problems == []
    assert found.processes
    ports = [port for process in found.processes for port in process.ports.values()]
    assert len(ports) == len(set(ports))
    services = {host.split(":")[0] for host in found.services}
    for process in found.processes:
        for value in [*process.command, *process.env.values()]:
            for host in re.findall(r"://([a-z0-9.-]+)", value):
                assert host not in services, f"{process.name}: {value} still names the chart's {host}"
        if process.program == "server":
            assert "--host=127.0.0.1" in process.command
    if found.long_running and any(p.program == "server" for p in found.long_running):
        assert found.fallback in found.services or found.routing


def test_a_transformer_is_given_its_predictor_as_kserve_gives_it() -> None:
    found = topology("preprocess-prediction")
    predictor = next(p for p in found.processes if p.component == "predictor")
    assert f"--predictor_host=127.0.0.1:{predictor.ports[8080]}" in arguments(
        found, "demo-preprocess-prediction-transformer"
    )


def test_the_logger_of_an_inference_service_is_the_servers_http_sink_to_the_local_collector() -> None:
    found = topology("prediction-log")
    collector = next(p for p in found.processes if p.component == "collector")
    predictor = arguments(found, "demo-prediction-log-predictor")
    assert f"--prediction_log_http_url=http://127.0.0.1:{collector.ports[8080]}/" in predictor
    assert any("KServe's logger is emulated" in note for note in found.notes)


def test_variants_log_to_the_releases_redis_and_the_entry_service_is_the_primary() -> None:
    found = topology("shadow-ab")
    redis = next(p for p in found.processes if p.program == "redis")
    primary = next(p for p in found.processes if p.name == "demo-shadow-ab-primary-predictor")
    assert primary.env["MLPATTERNS_PREDICTION_LOG_REDIS_URL"] == f"redis://127.0.0.1:{redis.ports[6379]}/0"
    assert found.services["demo-shadow-ab.mlpatterns.svc.cluster.local"] == f"127.0.0.1:{primary.ports[8080]}"
    assert "--role=shadow" in arguments(found, "demo-shadow-ab-shadow-predictor")


def test_kserve_canaries_are_processes_of_their_own() -> None:
    values = {**LOCAL["online-ab"], "trafficRouter": "kserve", "override": {"header": ""}}
    found = topology("online-ab", values)
    names = sorted(p.name for p in found.processes)
    assert names == ["demo-online-ab-canary-predictor", "demo-online-ab-predictor"]
    assert "--role=canary" in arguments(found, "demo-online-ab-canary-predictor")
    assert "demo-online-ab-canary-predictor.mlpatterns.svc.cluster.local:80" in found.services


def test_a_model_baked_into_an_image_needs_its_folder() -> None:
    refused = topology("model-in-image")
    assert any("--baked-model PATH" in problem for problem in refused.problems)
    given = topology("model-in-image", baked=Path(MODEL))
    assert given.processes[0].env["MLPATTERNS_MODEL_DIR"] == MODEL


def test_jobs_run_once_with_the_labels_and_indexes_kubernetes_gives_them() -> None:
    values = {**LOCAL["batch"], "shards": {"count": 3, "parallelism": 3}}
    found = topology("batch", values)
    assert [p.env.get("JOB_COMPLETION_INDEX") for p in found.jobs] == ["0", "1", "2"]
    assert all(p.env["MLPATTERNS_RUN_ID"] == "demo-batch-local" for p in found.jobs)
    assert not found.long_running


def test_a_cluster_tracking_server_is_the_local_store_and_the_rest_is_said() -> None:
    found = topology("batch")
    assert all("MLFLOW_TRACKING_URI" not in p.env for p in found.processes)
    assert any("the local MLflow store" in note for note in found.notes)
    assert any("ScaledObject: not emulated" in note for note in topology("asynchronous").notes)


@pytest.mark.parametrize("backend", ["seldon-core-v1", "seldon-core-v2"])
def test_a_seldon_backend_is_refused_with_the_way_to_run_it_here(backend: str) -> None:
    models = {role: {"model": {"uri": f"gs://models/iris-{role}"}} for role in ("primary", "shadow")}
    found = topology("shadow-ab", {**models, "backend": backend, "compare": {"enabled": False}})
    assert len(found.problems) == 1  # said once, not once per Seldon object
    assert "`mlpatterns up` runs the kserve backend (leave backend unset)" in found.problems[0]
