"""Validate a set of rendered objects: core kinds against the Kubernetes schemas, custom
resources against their upstream CRDs, every one strictly."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlpatterns.validation import Problem
from mlpatterns.validation.core import core_problems, is_core
from mlpatterns.validation.crds import custom_resource_problems, load_schemas


def label(document: dict[str, Any]) -> str:
    return f"{document.get('kind', '?')}/{document.get('metadata', {}).get('name', '?')}"


def validate_documents(documents: Iterable[tuple[str, Any]], crd_dir: Path | None = None) -> list[Problem]:
    """Problems of (source, object) pairs. Custom resources are checked against the packaged
    schemas, or the CRD files in `crd_dir` (MissingCrds if that folder is absent)."""
    problems: list[Problem] = []
    for source, document in documents:
        if not isinstance(document, dict) or not {"apiVersion", "kind"} <= document.keys():
            problems.append(Problem(source, "?", "(top)", "not a Kubernetes object (no apiVersion and kind)"))
            continue
        if is_core(document):
            found = core_problems(document)
        else:
            found = custom_resource_problems(document, load_schemas(crd_dir))
        problems.extend(Problem(source, label(document), path, reason) for path, reason in found)
    return problems
