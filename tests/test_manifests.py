"""The platform manifests build with kustomize (kubectl's own) and every object validates
strictly against the upstream CRDs, unknown fields counting as errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlpatterns.paths import REPOSITORY
from mlpatterns.validation.core import is_core
from mlpatterns.validation.crd_sync import KINDS
from mlpatterns.validation.manifests import validate_documents
from tests.charts import scenarios
from tests.charts.scenarios import PAIRS


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl") or str(REPOSITORY / ".venv/bin/kubectl")
    done = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return [document for document in yaml.safe_load_all(done.stdout) if document]


@pytest.fixture(scope="module")
def built() -> list[dict[str, Any]]:
    return _kustomize(REPOSITORY / "manifests")


def test_the_kustomization_builds_the_runtime(built: list[dict[str, Any]]) -> None:
    assert [(d["kind"], d["metadata"]["name"]) for d in built] == [("ClusterServingRuntime", "mlpatterns-server")]


def test_every_object_validates_strictly(built: list[dict[str, Any]]) -> None:
    assert validate_documents([("manifests", d) for d in built]) == []


def test_a_misspelt_field_is_named(built: list[dict[str, Any]]) -> None:
    runtime = built[0]
    runtime["spec"]["supportedModelFormats"][0]["autoSelct"] = True
    reasons = [f"{p.path}: {p.reason}" for p in validate_documents([("manifests", runtime)])]
    assert reasons == [
        "spec.supportedModelFormats.0: Additional properties are not allowed ('autoSelct' was unexpected)"
    ]


def test_the_runtime_declares_what_the_server_serves(built: list[dict[str, Any]]) -> None:
    runtime = built[0]["spec"]
    assert {entry["name"] for entry in runtime["supportedModelFormats"]} == {"sklearn", "xgboost", "onnx", "mlflow"}
    (container,) = runtime["containers"]
    assert "--model_dir=/mnt/models" in container["args"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.fixture(scope="module")
def mesh_security() -> list[dict[str, Any]]:
    return _kustomize(REPOSITORY / "manifests" / "istio")


def test_the_istio_pieces_make_the_namespace_strict(mesh_security: list[dict[str, Any]]) -> None:
    (peer,) = mesh_security
    assert (peer["kind"], peer["metadata"]["name"], peer["spec"]) == (
        "PeerAuthentication", "default", {"mtls": {"mode": "STRICT"}}
    )  # fmt: skip
    assert "namespace" not in peer["metadata"], "applied with -n to the models' namespace"
    assert validate_documents([("manifests/istio", d) for d in mesh_security]) == []


def test_the_cli_ships_a_schema_for_exactly_the_custom_kinds_the_kit_renders(
    built: list[dict[str, Any]], mesh_security: list[dict[str, Any]]
) -> None:
    rendered = [m.document for chart, values in PAIRS for m in scenarios.rendered(chart, values)]
    custom = {(d["apiVersion"], d["kind"]) for d in [*rendered, *built, *mesh_security] if not is_core(d)}
    assert custom == set(KINDS), "update KINDS in mlpatterns/validation/crd_sync.py, then `mlpatterns crds sync`"
