"""Core Kubernetes kinds against the Kubernetes JSON schemas shipped by kubernetes-validate, in
their strict flavour (unknown fields are errors), for the Kubernetes version the kit targets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
import referencing
from kubernetes_validate.utils import schema_contents

KUBERNETES_VERSION = "1.30.0"


@cache
def _validator(kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"
    try:
        schema = schema_contents(f"{folder}/{kind.lower()}-{group_version}.json", KUBERNETES_VERSION)
    except FileNotFoundError:
        return None
    definitions = schema_contents(f"{folder}/_definitions.json", KUBERNETES_VERSION)
    # Both files carry an $id; the schema's $refs point into the definitions by it.
    registry: referencing.Registry[Any] = referencing.Registry()
    registry = referencing.Resource.from_contents(schema) @ registry
    registry = referencing.Resource.from_contents(definitions) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def is_core(document: dict[str, Any]) -> bool:
    return _validator(document.get("kind", ""), document.get("apiVersion", "")) is not None


def core_problems(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    validator = _validator(document.get("kind", ""), document.get("apiVersion", ""))
    assert validator is not None
    for error in validator.iter_errors(document):
        yield ".".join(str(part) for part in error.absolute_path) or "(top)", error.message
