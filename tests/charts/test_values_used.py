"""Every value a chart takes does something: each key of values.yaml is in the schema, each key
of the schema has its documented default in values.yaml, and changing any one of them (to another
value the schema accepts) changes what the chart renders under at least one of its scenarios. A
key that validates and does nothing is a lie to the user who sets it."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mlpatterns.charts.rendering import ChartError, merge, render
from tests.charts.scenarios import CHARTS, scenario_files, values_of

# Helm's own scopes, not values of the chart.
HELM_SCOPES = {"global", "mlpatterns-lib"}
Path_ = tuple[str, ...]


def schema_of(chart: Path) -> dict[str, Any]:
    return dict(json.loads((chart / "values.schema.json").read_text()))


def schema_leaves(schema: dict[str, Any], prefix: Path_ = ()) -> Iterator[tuple[Path_, dict[str, Any]]]:
    """Each settable key: a closed object's properties are walked, anything else is a leaf."""
    properties = schema.get("properties")
    if schema.get("type") == "object" and properties and schema.get("additionalProperties") is False:
        for key, child in properties.items():
            if not prefix and key in HELM_SCOPES:
                continue
            yield from schema_leaves(child, (*prefix, key))
    else:
        yield prefix, schema


def values_leaves(values: Any, schema: dict[str, Any], prefix: Path_ = ()) -> Iterator[Path_]:
    properties = schema.get("properties")
    if isinstance(values, dict) and properties and schema.get("additionalProperties") is False:
        for key, child in values.items():
            yield from values_leaves(child, properties.get(key, {}), (*prefix, key))
    else:
        yield prefix


def at(values: dict[str, Any], path: Path_) -> Any:
    for key in path:
        if not isinstance(values, dict) or key not in values:
            return None
        values = values[key]
    return values


def with_value(values: dict[str, Any], path: Path_, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(values)
    target = changed
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    return changed


# Values tried in turn for a leaf; the first the schema accepts that differs from the current one.
STRINGS = ["x", "abc-1", "redis://redis:6379/0", "rediss://redis:6380/1", "http://collector:8080", "2Gi", "500m"]
STRINGS += ["s3://bucket/model", "https://mlflow.example:5000", "0 3 * * *", "10s", "registry.example/image"]
STRINGS += ["sha256:" + "a" * 64, "cluster.local/ns/istio-system/sa/gateway"]
OBJECTS = [{"mlpatterns.dev/probe": "1"}, {"nodeAffinity": {}}, {"probe": 1}]
ARRAYS = [["--log_level=DEBUG"], [{"name": "PROBE", "value": "1"}], [{"key": "k", "operator": "Exists"}]]
ARRAYS += [["model-credentials"], ["cluster.local/ns/apps/sa/client"], [[5.1, 3.5, 1.4, 0.2]], [0, 1]]


def candidates(schema: dict[str, Any], current: Any) -> Iterator[Any]:
    if "enum" in schema:
        yield from schema["enum"]
    kind = schema.get("type")
    if isinstance(kind, list):  # ["array", "null"]
        kind = kind[0]
    if kind == "boolean":
        yield not current
    elif kind in ("integer", "number"):
        base = current if isinstance(current, int | float) else schema.get("minimum", 1)
        yield from (base + 1, base - 1, base + 10, base * 2, 0.5)
    elif kind == "array":
        if isinstance(current, list) and len(current) > 1:  # a list of the chart's own (variants, routes)
            yield list(reversed(current))
            yield current[:-1]
        yield from ARRAYS
    elif kind == "object":
        yield from OBJECTS
    elif kind == "string" or "anyOf" in schema:
        if isinstance(current, str) and current:
            yield current + "x"
            yield ""
        yield from STRINGS


def contexts(values: dict[str, Any], path: Path_, document_schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The values as they are, then with one sibling switch of the key flipped (`enabled`, a
    `sink`, a mode): a key may only matter once its feature is on."""
    yield values
    parent: dict[str, Any] = document_schema
    for key in path[:-1]:
        parent = parent["properties"][key]
    for sibling, schema in parent.get("properties", {}).items():
        if sibling == path[-1]:
            continue
        switches = schema.get("enum", [True, False] if schema.get("type") == "boolean" else [])
        for value in switches:
            if value != at(values, (*path[:-1], sibling)):
                yield filled(with_value(values, (*path[:-1], sibling), value), path, parent)


def completions(values: dict[str, Any], path: Path_) -> Iterator[dict[str, Any]]:
    """The values with one empty sibling of the key given a value: a switch may need one of
    several alternatives (redis.create=false needs redis.url or redis.existingSecret)."""
    parent = at(values, path[:-1]) if len(path) > 1 else values
    for sibling, value in (parent or {}).items():
        if sibling != path[-1] and value == "":
            for candidate in STRINGS:
                yield with_value(values, (*path[:-1], sibling), candidate)


def first_rendering(chart: Path, alternatives: Iterator[dict[str, Any]]) -> str | None:
    for values in alternatives:
        rendered = renders(chart, values)
        if rendered is not None:
            return rendered
    return None


def filled(values: dict[str, Any], path: Path_, parent: dict[str, Any]) -> dict[str, Any]:
    """Empty strings beside the key given a value, as a switched-on feature needs (a sink its URL)."""
    for sibling, schema in parent.get("properties", {}).items():
        where = (*path[:-1], sibling)
        if sibling != path[-1] and at(values, where) == "":
            accepted = (v for v in candidates(schema, "") if jsonschema.Draft7Validator(schema).is_valid(v))
            values = with_value(values, where, next(accepted, ""))
    return values


def renders(chart: Path, values: dict[str, Any]) -> str | None:
    """The chart's objects as comparable text."""
    return _renders(chart, json.dumps(values, sort_keys=True))


@functools.lru_cache(maxsize=512)  # the leaves of one chart render the same scenarios and switches again
def _renders(chart: Path, values: str) -> str | None:
    try:
        return json.dumps([[m.template, m.document] for m in render(chart, json.loads(values))])
    except ChartError:
        return None  # refused by a template check: no proof either way


def changes_rendering(chart: Path, path: Path_, schema: dict[str, Any]) -> bool:
    document_schema = schema_of(chart)
    validator = jsonschema.Draft7Validator(document_schema)
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    for scenario in scenario_files(chart):
        for values in contexts(merge(defaults, values_of(scenario)), path, document_schema):
            if validator.is_valid(values) and changes_here(chart, path, schema, values, validator):
                return True
    return False


def changes_here(
    chart: Path, path: Path_, schema: dict[str, Any], values: dict[str, Any], validator: jsonschema.Draft7Validator
) -> bool:
    """Two accepted values of the key that render differently (a template may refuse some, e.g. a
    redis sink without its URL)."""
    seen = {renders(chart, values)} - {None}
    for value in candidates(schema, at(values, path)):
        changed = with_value(values, path, value)
        if value == at(values, path) or not validator.is_valid(changed):
            continue
        seen |= {renders(chart, changed)} - {None} or {first_rendering(chart, completions(changed, path))}
        seen -= {None}
        if len(seen) > 1:
            return True
    return False


LEAVES = [
    pytest.param(chart, path, schema, id=f"{chart.name}:{'.'.join(path)}")
    for chart in CHARTS
    for path, schema in schema_leaves(schema_of(chart))
]


@pytest.mark.parametrize("chart", CHARTS, ids=[chart.name for chart in CHARTS])
def test_values_yaml_and_schema_name_the_same_keys(chart: Path) -> None:
    schema = schema_of(chart)
    documented = set(values_leaves(yaml.safe_load((chart / "values.yaml").read_text()), schema))
    settable = {path for path, _ in schema_leaves(schema)}
    assert sorted(".".join(p) for p in settable - documented) == [], "in the schema, no default in values.yaml"
    assert sorted(".".join(p) for p in documented - settable) == [], "in values.yaml, not in the schema"


@pytest.mark.parametrize(("chart", "path", "schema"), LEAVES)
def test_every_value_changes_what_renders(chart: Path, path: Path_, schema: dict[str, Any]) -> None:
    assert changes_rendering(chart, path, schema), (
        f"{chart.name}: no accepted value of {'.'.join(path)} changes the rendering under any scenario"
    )
