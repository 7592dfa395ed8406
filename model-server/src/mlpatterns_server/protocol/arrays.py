"""JSON values to NumPy arrays, and plain descriptions of the element that does not fit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from mlpatterns_server.errors import InvalidInput


def array_from_json(values: Any, where: str) -> np.ndarray:
    """A (nested) JSON list as an array; a ragged or mixed list is refused with its first culprit."""
    try:
        array = np.array(values)
    except (ValueError, TypeError):
        raise InvalidInput(_ragged(values, where)) from None
    kind = array.dtype.kind
    if kind == "O" or (kind == "U" and _any_leaf(values, lambda v: not isinstance(v, str))):
        raise InvalidInput(_mixed(values, where))
    return array


def _ragged(values: Any, where: str) -> str:
    for path, node in _nodes(values):
        if isinstance(node, list) and node:
            shapes = [len(child) if isinstance(child, list) else None for child in node]
            for i, shape in enumerate(shapes):
                if shape != shapes[0]:
                    first = "a list" if shapes[0] is not None else "a single value"
                    here = f"a list of {shape}" if shape is not None else "a single value"
                    if shapes[0] is not None and shape is not None:
                        return (
                            f"{where}{index_text((*path, i))} has {shape} values but "
                            f"{where}{index_text((*path, 0))} has {shapes[0]}; every row needs the same length"
                        )
                    return f"{where}{index_text((*path, i))} is {here} but {where}{index_text((*path, 0))} is {first}"
    return f"{where} is not a regular (rectangular) array"


def _mixed(values: Any, where: str) -> str:
    """Name the value that does not fit: a null, object or boolean, else the first text among
    numbers (models take numbers far more often than text)."""
    leaves = [(path, node) for path, node in _nodes(values) if not isinstance(node, list)]
    for path, node in leaves:
        if node is None or isinstance(node, dict | bool):
            return f"{where}{index_text(path)} is {describe(node)}; expected a number"
    for path, node in leaves:
        if isinstance(node, str):
            return f"{where}{index_text(path)} is {describe(node)}; the other values are numbers"
    return f"{where} mixes values of different types"


def _nodes(values: Any, path: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], Any]]:
    yield path, values
    if isinstance(values, list):
        for i, child in enumerate(values):
            yield from _nodes(child, (*path, i))


def _any_leaf(values: Any, test: Callable[[Any], bool]) -> bool:
    return any(test(node) for _, node in _nodes(values) if not isinstance(node, list))


def first_element(array: np.ndarray, bad: Callable[[Any], bool]) -> tuple[tuple[int, ...], Any]:
    """The index and value of the first element that `bad` holds for (error path only)."""
    for index in np.ndindex(array.shape):
        value = array[index]
        if bad(value):
            return index, value
    return (), None


def index_text(index: tuple[int, ...]) -> str:
    return "".join(f"[{i}]" for i in index)


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool | np.bool_):
        return f"the boolean {str(bool(value)).lower()}"
    if isinstance(value, str):
        return f"the string {str(value)!r}"
    if isinstance(value, bytes):
        return f"the bytes {value!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return "NaN"
        if np.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    return repr(value.item() if isinstance(value, np.generic) else value)
