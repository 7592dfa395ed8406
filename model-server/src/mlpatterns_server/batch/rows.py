"""A chunk's rows split into the model's inputs and the rows that cannot be predicted, each of
those with its reason: a feature that is missing, empty, not a number or not finite. Numeric
columns are checked with Arrow and NumPy, whole columns at a time; text columns (a CSV column
with one stray word, an SQLite column of mixed values) are parsed, and only the rows whose value is
not a number are rejected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlpatterns_server.loading.loaded import Tensors
from mlpatterns_server.model import ServedModel
from mlpatterns_server.protocol.binding import RequestTensor


class ColumnsError(Exception):
    """The table lacks what the model reads: no row can be predicted."""


@dataclass
class Split:
    inputs: Tensors  # the good rows, bound to the model's inputs
    good: np.ndarray  # indices of the good rows in the chunk
    rejected: np.ndarray  # indices of the bad rows
    reasons: list[str]  # one per rejected row


def feature_columns(model: ServedModel, names: Sequence[str], given: Sequence[str], keys: Sequence[str]) -> list[str]:
    """The columns the model reads, in its order."""
    if given:
        missing = [name for name in given if name not in names]
        if missing:
            raise ColumnsError(f"the input has no column {', '.join(missing)}; it has {', '.join(names)}")
        return list(given)
    specs = model.loaded.inputs
    if len(specs) > 1:  # a model with named inputs (an MLflow signature): those columns
        missing = [spec.name for spec in specs if spec.name not in names]
        if missing:
            raise ColumnsError(f"model '{model.name}' reads {', '.join(missing)}, which the input lacks")
        return [spec.name for spec in specs]
    columns = [name for name in names if name not in keys]
    width = specs[0].shape[-1] if len(specs[0].shape) == 2 else -1
    if width > 0 and len(columns) != width:
        raise ColumnsError(
            f"model '{model.name}' reads {width} features, and the input has {len(columns)} columns besides "
            f"--key_columns ({', '.join(columns)}): name the features with --feature_columns, or the others "
            "with --key_columns"
        )
    return columns


def split_rows(model: ServedModel, table: pa.Table, columns: Sequence[str]) -> Split:
    rows = table.num_rows
    bad = np.zeros(rows, dtype=bool)
    reasons: dict[int, str] = {}
    arrays = []
    for name in columns:
        values, problems = _numeric(table.column(name), name)
        for index, reason in problems.items():
            if not bad[index]:
                bad[index] = True
                reasons[index] = reason
        arrays.append(values)
    good = np.flatnonzero(~bad)
    rejected = np.flatnonzero(bad)
    specs = model.loaded.inputs
    if len(specs) > 1:
        tensors = [
            RequestTensor(name, values[good], f"column {name}") for name, values in zip(columns, arrays, strict=True)
        ]
    else:
        matrix = np.column_stack(arrays)[good] if arrays else np.empty((0, 0))
        tensors = [RequestTensor(specs[0].name, matrix, "the feature columns")]
    inputs, _ = model.bind(tensors) if len(good) else ({}, 0)
    return Split(inputs, good, rejected, [reasons[int(index)] for index in rejected])


def _numeric(column: pa.ChunkedArray, name: str) -> tuple[np.ndarray, dict[int, str]]:
    """The column as float64, and the rows it cannot give a number for."""
    problems: dict[int, str] = {}
    kind = column.type
    if (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
    ):
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        texts = column.to_pylist()
        values = np.empty(len(texts))
        for index, text in enumerate(texts):
            try:
                values[index] = float(text) if text is not None else np.nan
            except ValueError:
                values[index] = np.nan
                problems[index] = f"column {name}: {text[:40]!r} is not a number"
    else:
        raise ColumnsError(f"column {name} is {kind}, not numbers")
    for position in np.flatnonzero(~np.isfinite(values)).tolist():
        if position not in problems:
            problems[position] = (
                f"column {name} is empty" if np.isnan(values[position]) else f"column {name} is not finite"
            )
    return values, problems
