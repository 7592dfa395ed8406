"""The CRD schemas the CLI ships: derived from the upstream CRDs, recorded with their origin, and
enough to validate custom resources strictly on a machine that has no upstream folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mlpatterns.paths import upstream_crds_dir
from mlpatterns.validation.crd_sync import KINDS, Upstream, sync, upstream_sources
from mlpatterns.validation.crds import INDEX, PACKAGED, load_schemas
from mlpatterns.validation.manifests import validate_documents

UPSTREAM = upstream_crds_dir()


def mlpatterns(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "MLPATTERNS_CRDS_DIR"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "mlpatterns", *args],
        capture_output=True, text=True, timeout=120, check=False, env=environment, cwd=cwd,
    )  # fmt: skip


@pytest.mark.skipif(
    not UPSTREAM.is_dir(),
    reason=f"the upstream CRD folder is not at {UPSTREAM}: the packaged schemas cannot be regenerated here "
    "(validation does not need it; see test_every_packaged_kind_is_recorded_with_its_origin)",
)
def test_packaged_schemas_are_what_the_upstream_crds_give() -> None:
    assert sync(UPSTREAM, check=True) == [], "run `mlpatterns crds sync` and commit the result"


def test_every_packaged_kind_is_recorded_with_its_origin() -> None:
    index = json.loads((PACKAGED / INDEX).read_text())["kinds"]
    assert [(entry["apiVersion"], entry["kind"]) for entry in index] == KINDS
    for entry in index:
        upstream = entry["upstream"]
        assert "/" in upstream["repository"], entry["kind"]
        assert len(upstream["commit"]) >= 7, entry["kind"]
        assert len(upstream["sha256"]) == 64, entry["kind"]
        schema = json.loads((PACKAGED / entry["schema"]).read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        assert "description" not in schema, "descriptions are dropped"
    assert sorted(path.name for path in PACKAGED.glob("*.json")) == sorted([INDEX, *(e["schema"] for e in index)])


def test_the_readme_table_gives_each_file_its_origin() -> None:
    readme = """
| file | kinds | upstream repository @ commit (date) |
| --- | --- | --- |
| kserve-a.yaml | A | kserve/kserve @ aaac4e294dae (2026-08-21), config/crd/full |
| kserve-b.yaml | B | same |
| prom-*.yaml | C | prometheus-operator/prometheus-operator @ 6adcebc5076c (2026-08-08), example/crd |
| seldon-{models,experiments}.yaml | D | SeldonIO/seldon-core @ 7b77f8b78 (release-1.19.0-rc.1, 2026-01-07), bases |
"""
    sources = upstream_sources(readme)
    kserve = Upstream("kserve/kserve", "aaac4e294dae", "2026-08-21", "config/crd/full")
    assert sources[0] == (["kserve-a.yaml"], kserve)
    assert sources[1] == (["kserve-b.yaml"], kserve)
    assert sources[2][0] == ["prom-*.yaml"]
    assert sources[3][0] == ["seldon-models.yaml", "seldon-experiments.yaml"]
    assert sources[3][1].note == "release-1.19.0-rc.1, 2026-01-07"


def _inference_service(**container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris"},
        "spec": {"predictor": {"containers": [{"name": "kserve-container", "image": "server:1", **container}]}},
    }


def test_a_typo_in_a_shared_sub_schema_is_still_an_error() -> None:
    # The predictor's container schema is stored once under `definitions` and referenced.
    assert validate_documents([("isvc.yaml", _inference_service(imagePullPolicy="Always"))]) == []
    problems = validate_documents([("isvc.yaml", _inference_service(imagePullPolicyy="Always"))])
    assert [f"{p.path}: {p.reason}" for p in problems] == [
        "spec.predictor.containers.0: Additional properties are not allowed ('imagePullPolicyy' was unexpected)"
    ]


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason=f"the upstream CRD folder is not at {UPSTREAM}")
def test_the_packaged_schemas_judge_like_the_upstream_crds() -> None:
    key = ("serving.kserve.io/v1beta1", "InferenceService")
    packaged, upstream = load_schemas()[key], load_schemas(UPSTREAM)[key]
    for document in (_inference_service(imagePullPolicy="Always"), _inference_service(imagePullPolicyy="Always"),
                     _inference_service(ports=[{"containerPort": "http"}])):  # fmt: skip
        found = [
            sorted(e.message for e in jsonschema.Draft7Validator(s).iter_errors(document)) for s in (packaged, upstream)
        ]
        assert found[0] == found[1]


def test_validate_needs_nothing_beside_the_checkout(tmp_path: Path) -> None:
    done = mlpatterns("validate", "synchronous", "--no-checkov", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 problems" in done.stdout


def _widget_crd() -> dict[str, Any]:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        },
    }


def test_mlpatterns_crds_dir_validates_against_another_folder(tmp_path: Path) -> None:
    crds, manifests = tmp_path / "crds", tmp_path / "manifests"
    crds.mkdir()
    manifests.mkdir()
    (crds / "widgets.yaml").write_text(yaml.safe_dump(_widget_crd()))
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"sise": 3}}
    (manifests / "widget.yaml").write_text(yaml.safe_dump(widget))
    done = mlpatterns("validate", str(manifests), "--no-checkov", env={"MLPATTERNS_CRDS_DIR": str(crds)})
    assert done.returncode == 1
    assert "Widget/w: spec: Additional properties are not allowed ('sise' was unexpected)" in done.stdout
    missing = mlpatterns("validate", str(manifests), "--no-checkov", env={"MLPATTERNS_CRDS_DIR": str(tmp_path / "x")})
    assert missing.returncode == 2
    assert f"upstream CRD schemas not found at {tmp_path / 'x'} (MLPATTERNS_CRDS_DIR)" in missing.stderr
