"""KServe v1 protocol: `{"instances": [...]}` in, `{"predictions": [...]}` out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlpatterns_server.errors import InvalidInput
from mlpatterns_server.protocol.arrays import array_from_json, describe, kind_of
from mlpatterns_server.protocol.binding import RequestTensor
from mlpatterns_server.protocol.jsonio import dump_json, jsonable, may_hold_booleans, parse_json
from mlpatterns_server.protocol.tensors import TensorSpec


def decode(body: bytes, specs: Sequence[TensorSpec]) -> list[RequestTensor]:
    return decode_document(parse_json(body), specs, may_hold_booleans(body))


def decode_document(document: Any, specs: Sequence[TensorSpec], booleans: bool = True) -> list[RequestTensor]:
    """The request's tensors; rows of a column-based model may be lists or objects keyed by column.
    `booleans`: whether the document may hold JSON booleans (which are not numbers)."""
    if not isinstance(document, dict):
        raise InvalidInput(f"request body must be a JSON object with an 'instances' list, not {kind_of(document)}")
    instances = document.get("instances")
    if instances is None:
        raise InvalidInput("request body has no 'instances' field (v1 protocol: {\"instances\": [row, ...]})")
    if not isinstance(instances, list):
        raise InvalidInput(f"'instances' must be a list of rows, not {kind_of(instances)}")
    if not instances:
        raise InvalidInput("'instances' is empty; send at least one row")
    if len(specs) > 1 and isinstance(instances[0], dict):
        return columns_from_objects(instances, specs, booleans)
    return [RequestTensor("instances", array_from_json(instances, "instances", booleans), "instances")]


def columns_from_objects(rows: list[Any], specs: Sequence[TensorSpec], booleans: bool) -> list[RequestTensor]:
    names = [spec.name for spec in specs]
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidInput(f"instances[{i}] is {describe(row)}; instances[0] is an object keyed by input name")
        missing = [name for name in names if name not in row]
        if missing:
            raise InvalidInput(f"instances[{i}] lacks {', '.join(repr(m) for m in missing)}")
        unknown = [key for key in row if key not in columns]
        if unknown:
            raise InvalidInput(
                f"instances[{i}] has {unknown[0]!r}, which is not an input; inputs are {', '.join(names)}"
            )
        for name in names:
            columns[name].append(row[name])
    return [
        RequestTensor(name, array_from_json(values, f"instances[*].{name}", booleans), f"instances[*].{name}")
        for name, values in columns.items()
    ]


def encode(predictions: np.ndarray) -> bytes:
    return dump_json({"predictions": jsonable(predictions)})
