"""JSON values to NumPy arrays, and plain descriptions of the element that does not fit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from mlpatterns_server.errors import InvalidInput

# Deeper lists than any tensor a model takes (NumPy itself stops at 64 dimensions).
MAX_DEPTH = 32


def array_from_json(values: Any, where: str, may_hold_booleans: bool = True) -> np.ndarray:
    """A (nested) JSON list as an array; a ragged, mixed or too deeply nested list is refused
    with its first culprit. JSON booleans are not numbers: NumPy would make them 1 and 0, so they
    are looked for, unless the caller knows the body holds no `true` or `false` at all."""
    _check_first_path(values, where)
    try:
        array = np.array(values)
    except (ValueError, TypeError):
        raise InvalidInput(_ragged(values, where)) from None
    kind = array.dtype.kind
    if kind == "O" or (kind == "U" and _any_leaf(values, where, lambda v: not isinstance(v, str))):
        raise InvalidInput(_mixed(values, where))
    if may_hold_booleans and kind in "iuf":
        for path, node in _nodes(values, where):
            if isinstance(node, bool):
                raise InvalidInput(f"{where}{index_text(path)} is {describe(node)}; expected a number")
    return array


def _check_first_path(values: Any, where: str) -> None:
    """The common deep-nesting attack, [[[[...]]]], found by following the first elements only."""
    node, depth = values, 0
    while isinstance(node, list) and node:
        node, depth = node[0], depth + 1
        if depth > MAX_DEPTH:
            raise InvalidInput(f"{where} is nested more than {MAX_DEPTH} lists deep")


def _ragged(values: Any, where: str) -> str:
    for path, node in _nodes(values, where):
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
    leaves = [(path, node) for path, node in _nodes(values, where) if not isinstance(node, list)]
    for path, node in leaves:
        if node is None or isinstance(node, dict | bool):
            return f"{where}{index_text(path)} is {describe(node)}; expected a number"
    for path, node in leaves:
        if isinstance(node, str):
            return f"{where}{index_text(path)} is {describe(node)}; the other values are numbers"
    return f"{where} mixes values of different types"


def _nodes(values: Any, where: str) -> Iterator[tuple[tuple[int, ...], Any]]:
    """Every list and leaf with its index path, depth first, in order; without recursion, and
    refusing lists nested more than MAX_DEPTH deep."""
    stack: list[tuple[tuple[int, ...], Any]] = [((), values)]
    while stack:
        path, node = stack.pop()
        yield path, node
        if isinstance(node, list):
            if len(path) >= MAX_DEPTH:
                raise InvalidInput(f"{where} is nested more than {MAX_DEPTH} lists deep")
            stack.extend(((*path, i), child) for i, child in reversed(list(enumerate(node))))


def _any_leaf(values: Any, where: str, test: Callable[[Any], bool]) -> bool:
    return any(test(node) for _, node in _nodes(values, where) if not isinstance(node, list))


def first_index(mask: np.ndarray) -> tuple[int, ...]:
    """The index of the first True in a boolean mask (vectorised: an error on a million rows
    costs what the check did)."""
    found = np.flatnonzero(mask)
    position = int(found[0]) if found.size else 0
    return tuple(int(i) for i in np.unravel_index(position, mask.shape))


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


def kind_of(value: Any) -> str:
    """What a JSON value is, for errors about a field of the wrong type."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return describe(value)
