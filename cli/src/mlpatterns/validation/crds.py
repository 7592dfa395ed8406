"""Custom resources against their upstream CRD schemas, the way the API server validates them on
`kubectl apply` with strict field validation. CRD schemas do not say `additionalProperties:
false`, so every object schema that lists `properties` is closed here, except under
`x-kubernetes-preserve-unknown-fields`; `apiVersion`, `kind` and `metadata` are always allowed.

The schemas come from the CLI's own package data (derived from the upstream CRDs by `mlpatterns
crds sync`), or from a folder of upstream CRD files named by MLPATTERNS_CRDS_DIR."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mlpatterns.errors import UserError

TOP_LEVEL = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
# The packaged schemas, and the index that lists them with their upstream origin.
PACKAGED = Path(__file__).resolve().parent / "crd_schemas"
INDEX = "index.json"

Schemas = dict[tuple[str, str], dict[str, Any]]


class MissingCrds(UserError):
    """The folder of upstream CRD schemas named by MLPATTERNS_CRDS_DIR is not there."""


def schema_file(api_version: str, kind: str) -> str:
    """The packaged file of one kind: serving.kserve.io/v1beta1 InferenceService ->
    serving.kserve.io_v1beta1_inferenceservice.json."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{api_version}_{kind}").lower() + ".json"


@cache
def load_schemas(crd_dir: Path | None = None) -> Schemas:
    """Closed schemas by (apiVersion, kind): the packaged ones, or every CRD in `crd_dir`."""
    raw = _upstream(crd_dir) if crd_dir is not None else _packaged()
    schemas: Schemas = {}
    for key, schema in raw.items():
        schema = copy.deepcopy(schema)
        schema.setdefault("properties", {}).update(TOP_LEVEL)
        schemas[key] = _closed(schema)
    return schemas


def _packaged() -> Schemas:
    index = json.loads((PACKAGED / INDEX).read_text())
    return {
        (entry["apiVersion"], entry["kind"]): json.loads((PACKAGED / entry["schema"]).read_text())
        for entry in index["kinds"]
    }


def _upstream(crd_dir: Path) -> Schemas:
    if not crd_dir.is_dir():
        raise MissingCrds(f"upstream CRD schemas not found at {crd_dir} (MLPATTERNS_CRDS_DIR)")
    return {(api_version, kind): schema for _, api_version, kind, schema in crd_versions(crd_dir)}


def crd_versions(folder: Path) -> Iterator[tuple[Path, str, str, dict[str, Any]]]:
    """(file, apiVersion, kind, openAPIV3Schema) of every CRD version in a folder of CRD files."""
    for path in sorted(folder.glob("*.yaml")):
        for document in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
            if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
                continue
            spec = document["spec"]
            for version in spec["versions"]:
                schema = version["schema"]["openAPIV3Schema"]
                yield path, f"{spec['group']}/{version['name']}", spec["names"]["kind"], schema


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return schema
    for key in ("properties", "patternProperties", "definitions"):
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
        yield (
            "(top)",
            (
                f"no CRD schema for {document.get('apiVersion')} {document.get('kind')}: the kit ships the kinds its "
                "charts render; set MLPATTERNS_CRDS_DIR to a folder of CRD files to validate others"
            ),
        )
        return
    for error in jsonschema.Draft7Validator(schema).iter_errors(document):
        yield ".".join(str(part) for part in error.absolute_path) or "(top)", error.message
