"""Custom resources against their upstream CRD schemas, the way the API server validates them on
`kubectl apply` with strict field validation. CRD schemas do not say `additionalProperties:
false`, so every object schema that lists `properties` is closed here, except under
`x-kubernetes-preserve-unknown-fields`; `apiVersion`, `kind` and `metadata` are always allowed."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

TOP_LEVEL = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}

Schemas = dict[tuple[str, str], dict[str, Any]]


class MissingCrds(Exception):
    """The folder of upstream CRD schemas is not there."""


@cache
def load_schemas(crd_dir: Path) -> Schemas:
    """Closed schemas by (apiVersion, kind) for every CRD file in the folder."""
    if not crd_dir.is_dir():
        raise MissingCrds(f"upstream CRD schemas not found at {crd_dir} (set MLPATTERNS_CRDS_DIR)")
    schemas: Schemas = {}
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


def custom_resource_problems(document: dict[str, Any], schemas: Schemas) -> Iterator[tuple[str, str]]:
    """(field path, reason) for each problem; a kind with no schema is a problem, not a pass."""
    schema = schemas.get((document.get("apiVersion", ""), document.get("kind", "")))
    if schema is None:
        yield "(top)", f"no upstream CRD schema for {document.get('apiVersion')} {document.get('kind')}"
        return
    for error in jsonschema.Draft7Validator(schema).iter_errors(document):
        yield ".".join(str(part) for part in error.absolute_path) or "(top)", error.message
