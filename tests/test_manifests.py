"""Platform manifests validate against the upstream CRDs, unknown fields counting as errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.crds import CRD_DIR, load_schemas, problems

MANIFESTS = sorted((Path(__file__).resolve().parents[1] / "manifests").rglob("*.yaml"))

pytestmark = pytest.mark.skipif(not CRD_DIR.is_dir(), reason=f"upstream CRD schemas not found at {CRD_DIR}")


@pytest.fixture(scope="module")
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    return load_schemas()


def _custom_resources(path: Path) -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return [d for d in documents if d["kind"] != "Kustomization"]


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifest_validates_strictly(path: Path, schemas: dict[tuple[str, str], dict[str, Any]]) -> None:
    for document in _custom_resources(path):
        assert list(problems(document, schemas)) == []


def test_the_runtime_declares_what_the_server_serves(schemas: dict[tuple[str, str], dict[str, Any]]) -> None:
    (runtime,) = _custom_resources(
        Path(__file__).resolve().parents[1] / "manifests/kserve/cluster-serving-runtime.yaml"
    )
    formats = {entry["name"] for entry in runtime["spec"]["supportedModelFormats"]}
    assert formats == {"sklearn", "xgboost", "onnx", "mlflow"}
    (container,) = runtime["spec"]["containers"]
    assert "--model_dir=/mnt/models" in container["args"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_a_misspelt_field_is_named(schemas: dict[tuple[str, str], dict[str, Any]]) -> None:
    (runtime,) = _custom_resources(
        Path(__file__).resolve().parents[1] / "manifests/kserve/cluster-serving-runtime.yaml"
    )
    runtime["spec"]["supportedModelFormats"][0]["autoSelct"] = True
    runtime["spec"]["containers"][0]["resources"]["limits"]["cpu"] = ["1"]
    found = list(problems(runtime, schemas))
    assert any("spec.supportedModelFormats.0: Additional properties are not allowed ('autoSelct'" in p for p in found)
    assert any("spec.containers.0.resources.limits.cpu" in p for p in found)


def test_an_unknown_kind_is_an_error_not_a_pass(schemas: dict[tuple[str, str], dict[str, Any]]) -> None:
    document = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert list(problems(document, schemas)) == [f"Widget/w: no CRD schema for example.com/v1 Widget in {CRD_DIR}"]
