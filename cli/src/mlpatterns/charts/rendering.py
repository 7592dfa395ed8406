"""Render and lint charts with Helm's own Go SDK (helm-python-sdk): no helm binary, no cluster."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from mlpatterns.charts import value_paths
from mlpatterns.errors import UserError

KUBE_VERSION = "v1.30.0"
RELEASE = "demo"
NAMESPACE = "mlpatterns"


class ChartError(UserError):
    """Values Helm refuses, or a template that fails: Helm's message, with value paths spelt the
    way users type them (`--set` keys) and, given the chart, the nearest key to one it lacks."""

    def __init__(self, message: str, chart: Path | None = None) -> None:
        super().__init__(_hinted(readable(message), chart))


def _hinted(message: str, chart: Path | None) -> str:
    return value_paths.with_hints(message, value_paths.schema_of(chart)) if chart else message


def readable(helm_message: str) -> str:
    """Helm's message with each value path in `--set` spelling."""
    return _POINTER.sub(lambda match: _set_spelling(match[1]), helm_message)


# Helm's schema errors name a value by JSON pointer: at '/server/extraArgs/0'.
_POINTER = re.compile(r"at '(/[^']*|)'")


def _set_spelling(pointer: str) -> str:
    """'/server/extraArgs/0' -> at 'server.extraArgs[0]'; '' -> at the top level."""
    if not pointer:
        return "at the top level"
    path = ""
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return f"at '{path}'"


@dataclass(frozen=True)
class Manifest:
    """One rendered object and the template it came from."""

    template: str
    document: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.document.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.document.get("metadata", {}).get("name", ""))

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def is_test_hook(self) -> bool:
        annotations = self.document.get("metadata", {}).get("annotations", {})
        return bool(annotations.get("helm.sh/hook") == "test")


def merge(base: dict[str, Any], override: dict[str, Any], by_index: bool = False) -> dict[str, Any]:
    """Values layered the way Helm layers them: maps merge, the rest is replaced; `by_index`,
    lists merge item by item too, as Helm parses several --set into one map
    (`--set env[0].name=A --set env[0].value=b` is one item)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value, by_index)
        elif by_index and isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = _merge_items(merged[key], value)
        else:
            merged[key] = value
    return merged


def _merge_items(base: list[Any], override: list[Any]) -> list[Any]:
    items = list(base) + [None] * (len(override) - len(base))
    for index, item in enumerate(override):
        if isinstance(item, dict) and isinstance(items[index], dict):
            items[index] = merge(items[index], item, by_index=True)
        elif item is not None:  # --set a[1]=x leaves a[0] as it was
            items[index] = item
    return items


def user_values(files: Sequence[Path] = (), sets: Sequence[str] = ()) -> dict[str, Any]:
    """The values a user gives with -f and --set, in that order of precedence."""
    values: dict[str, Any] = {}
    for path in files:
        try:
            layer = helm.values_from_yaml(path.read_text())
        except OSError as error:
            raise ChartError(f"values file {path}: {error.strerror}") from None
        except helm.HelmError as error:
            raise ChartError(f"{path}: {error}") from None
        values = merge(values, layer or {})
    given: dict[str, Any] = {}
    for expression in sets:
        try:
            given = merge(given, helm.parse_set_string(expression), by_index=True)
        except helm.HelmError as error:
            raise ChartError(f"--set {expression}: {error}") from None
    return merge(values, given)


def render(
    chart: Path, values: dict[str, Any] | None = None, release: str = RELEASE, namespace: str = NAMESPACE
) -> list[Manifest]:
    """Every object the chart renders for an install, test hooks included, in template order."""
    try:
        with helm.Chart.load(chart) as loaded:
            rendered = loaded.render(values=values, name=release, namespace=namespace, is_install=True)
    except helm.HelmError as error:
        raise ChartError(str(error), chart) from None
    manifests = []
    for template, text in sorted(rendered.items()):
        if not template.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        try:
            documents = list(yaml.load_all(text, Loader=_UniqueKeys))
        except _DuplicateKey as duplicate:
            raise ChartError(f"{template}: {duplicate}") from None
        manifests += [Manifest(template, document) for document in documents if document]
    return manifests


class _DuplicateKey(Exception):
    pass


class _UniqueKeys(yaml.CSafeLoader):  # type: ignore[misc]  # PyYAML has no type information; libyaml parses 7.5x faster
    """YAML that refuses a key given twice in one mapping: two objects a template wrote without a
    `---` between them read as one, the second one's fields over the first's, and the first lost."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=True) for key, _ in node.value]
        for key in keys:
            if keys.count(key) > 1:
                raise _DuplicateKey(f"{key!r} is given twice in one object (line {node.start_mark.line + 1}): two "
                                    "objects without --- between them?")  # fmt: skip
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping


def lint(chart: Path, values: dict[str, Any] | None = None) -> list[str]:
    """Helm's lint findings at warning level and above (strict mode: warnings count)."""
    report = helm.lint(chart, values, strict=True, kube_version=KUBE_VERSION)
    findings = [f"{m['path']}: {m['error']}" for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    return [_hinted(readable(finding), chart) for finding in findings + [str(e) for e in report.get("errors", [])]]


def to_yaml(manifests: Sequence[Manifest]) -> str:
    """The manifests as `helm template` prints them."""
    parts = [f"---\n# Source: {m.template}\n{yaml.safe_dump(m.document, sort_keys=False)}" for m in manifests]
    return "".join(parts)
