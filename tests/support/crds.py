"""Validate custom resources the way the API server does on `kubectl apply` with strict field
validation: against the upstream CRD schema, with unknown fields as errors. CRD schemas do not say
`additionalProperties: false`, so every object schema that lists `properties` is closed here,
except under `x-kubernetes-preserve-unknown-fields`."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml


def _crd_dir() -> Path:
    """MLPATTERNS_CRDS_DIR, else a `shared/crds` folder beside the checkout or above it."""
    if "MLPATTERNS_CRDS_DIR" in os.environ:
        return Path(os.environ["MLPATTERNS_CRDS_DIR"])
    checkout = Path(__file__).resolve().parents[2]
    for parent in checkout.parents:
        if (parent / "shared" / "crds").is_dir():
            return parent / "shared" / "crds"
    return checkout.parent / "shared" / "crds"


CRD_DIR = _crd_dir()
TOP_LEVEL = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}


def load_schemas(crd_dir: Path = CRD_DIR) -> dict[tuple[str, str], dict[str, Any]]:
    """Closed schemas by (apiVersion, kind) for every CRD file in the folder."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(crd_dir.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not document or document.get("kind") != "CustomResourceDefinition":
                continue
            spec = document["spec"]
            for version in spec["versions"]:
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                schema.setdefault("properties", {}).update(TOP_LEVEL)
                schemas[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = _closed(schema)
    return schemas


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return schema
    for key in ("properties", "patternProperties"):
        for child in schema.get(key, {}).values():
            _closed(child)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _closed(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        for child in schema.get(key, []):
            _closed(child)
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    return schema


def problems(document: dict[str, Any], schemas: dict[tuple[str, str], dict[str, Any]]) -> Iterator[str]:
    """Each problem as `Kind/name: path: reason`; a kind with no schema is a problem too."""
    name = f"{document.get('kind')}/{document.get('metadata', {}).get('name', '?')}"
    schema = schemas.get((document.get("apiVersion", ""), document.get("kind", "")))
    if schema is None:
        yield f"{name}: no CRD schema for {document.get('apiVersion')} {document.get('kind')} in {CRD_DIR}"
        return
    for error in jsonschema.Draft7Validator(schema).iter_errors(document):
        path = ".".join(str(part) for part in error.absolute_path) or "(top)"
        yield f"{name}: {path}: {error.message}"
