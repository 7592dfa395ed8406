"""A chart's value paths as users type them after --set (`primary.model.uri`, `variants[0].weight`),
read from its values.schema.json: the list shell completion offers, and the "did you mean" added
to Helm's refusal of a key the schema does not have."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Schema = dict[str, Any]


def schema_of(chart: Path) -> Schema:
    path = chart / "values.schema.json"
    loaded: Schema = json.loads(path.read_text()) if path.is_file() else {}
    return loaded


def _properties(schema: Schema) -> dict[str, Schema]:
    """The keys an object schema allows, its conditional branches (allOf/anyOf/if-then) included."""
    found: dict[str, Schema] = dict(schema.get("properties", {}))
    for branch in [*schema.get("allOf", []), *schema.get("anyOf", []), *schema.get("oneOf", [])]:
        for key, value in _properties(branch).items():
            found.setdefault(key, value)
    for key in ("then", "else"):
        if isinstance(schema.get(key), dict):
            for name, value in _properties(schema[key]).items():
                found.setdefault(name, value)
    return found


def paths(schema: Schema, prefix: str = "") -> Iterator[str]:
    """Every leaf path, in --set spelling; a list's items as [0]."""
    properties = _properties(schema)
    items = schema.get("items")
    if properties:
        for key, value in properties.items():
            yield from paths(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(items, dict) and _properties(items):
        yield from paths(items, f"{prefix}[0]")
    elif prefix:
        yield prefix


def _at(schema: Schema, path: str) -> Schema | None:
    """The schema of the value at a --set path ('' is the top), or None where the schema has none."""
    for part in re.findall(r"[^.\[\]]+", path):
        if part.isdigit():
            items = schema.get("items")
            if not isinstance(items, dict):
                return None
            schema = items
        else:
            found = _properties(schema).get(part)
            if found is None:
                return None
            schema = found
    return schema


# Helm's schema error, as rendering.readable spells it: at 'primary': additional properties 'modle' not allowed
_UNKNOWN = re.compile(r"at (?:'([^']*)'|the top level): additional propert(?:y|ies) ((?:'[^']+'(?:, )?)+) not allowed")


def with_hints(message: str, schema: Schema) -> str:
    """Helm's message with "did you mean ..." after each key the schema does not have."""

    def hint(match: re.Match[str]) -> str:
        where = match[1] or ""
        known = _at(schema, where)
        if known is None:
            return match[0]
        unknown = re.findall(r"'([^']+)'", match[2])
        hints = []
        for key in unknown:
            nearest = difflib.get_close_matches(key, list(_properties(known)), n=1)
            if nearest:
                hints.append(f"'{_joined(where, nearest[0])}'" + (f" for '{key}'" if len(unknown) > 1 else ""))
        return match[0] + (f"; did you mean {', '.join(hints)}?" if hints else "")

    return _UNKNOWN.sub(hint, message)


def _joined(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
