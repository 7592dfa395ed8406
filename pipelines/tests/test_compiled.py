"""The committed pipeline YAML is what the code compiles to, and says what the patterns need:
batch-training never caches; pipeline-training caches, retries, sizes each step and takes
credentials from Secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.pipelines import run_command

COMPILED = Path(__file__).resolve().parents[1] / "compiled"


def load(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((COMPILED / f"{name}.yaml").read_text()) if d]


def tasks(spec: dict[str, Any]) -> dict[str, Any]:
    return dict(spec["root"]["dag"]["tasks"])


def test_the_committed_yaml_is_a_fresh_compile(tmp_path: Path) -> None:
    done = run_command("compile", "--check", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", ["batch-training", "pipeline-training"])
def test_the_graph_is_the_training_loop(name: str) -> None:
    spec = load(name)[0]
    graph = tasks(spec)
    assert list(graph) == ["evaluate", "ingest", "preprocess", "register", "split", "train", "validate"]
    assert graph["split"]["dependentTasks"] == ["ingest", "validate"], "split waits for validation"
    for step in graph.values():
        image = spec["deploymentSpec"]["executors"][step["componentRef"]["name"].replace("comp-", "exec-")]["container"]
        assert image["image"].startswith("ghcr.io/mlpatterns/training-python:")
        assert "pip install" not in " ".join(image["command"]), (
            "the training image has everything: no install at run time"
        )


def test_batch_training_never_replays_a_cached_run() -> None:
    assert all(
        step["cachingOptions"].get("enableCache") is not True for step in tasks(load("batch-training")[0]).values()
    )


def test_pipeline_training_caches_retries_and_sizes_each_step() -> None:
    spec, platform = load("pipeline-training")
    graph = tasks(spec)
    assert all(step["cachingOptions"]["enableCache"] is True for step in graph.values())
    retries = {name: step.get("retryPolicy", {}).get("maxRetryCount", 0) for name, step in graph.items()}
    assert retries == {
        "ingest": 3,
        "register": 3,
        "split": 1,
        "preprocess": 1,
        "train": 1,
        "evaluate": 1,
        "validate": 0,
    }
    executors = spec["deploymentSpec"]["executors"]
    for name in graph:
        resources = executors[f"exec-{name}"]["container"]["resources"]
        assert {"resourceCpuRequest", "resourceCpuLimit", "resourceMemoryRequest", "resourceMemoryLimit"} <= set(
            resources
        )
    train = executors["exec-train"]["container"]["resources"]
    assert "train_cpu" in train["resourceCpuLimit"]
    assert "train_accelerator" in train["accelerator"]["resourceType"]
    kubernetes = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert kubernetes["exec-ingest"]["secretAsEnv"][0]["secretName"] == "storage-credentials"
    assert kubernetes["exec-register"]["secretAsEnv"][0]["secretName"] == "mlflow-credentials"
    assert "nodeSelector" in kubernetes["exec-train"]


def test_compile_points_the_components_at_ones_own_training_image(tmp_path: Path) -> None:
    image = "registry.example.com/ml/training-python:1.2"
    done = run_command("compile", "--image", image, "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("batch-training", "pipeline-training"):
        documents = [d for d in yaml.safe_load_all((tmp_path / "out" / f"{name}.yaml").read_text()) if d]
        executors = documents[0]["deploymentSpec"]["executors"].values()
        assert {executor["container"]["image"] for executor in executors} == {image}
        assert documents[1:] == load(name)[1:], "the platform spec (secrets, node selector) is kept"
