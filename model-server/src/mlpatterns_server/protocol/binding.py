"""Match the tensors a request carries to the model's inputs, and check them: shape, datatype and
finite values. Every refusal names the input, the element and what the model expects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlpatterns_server.errors import InvalidInput
from mlpatterns_server.protocol.arrays import describe, first_index, index_text
from mlpatterns_server.protocol.tensors import NUMPY_DTYPES, TensorSpec


@dataclass(frozen=True)
class RequestTensor:
    """A tensor as decoded from a request; `where` says where it sits in the body."""

    name: str
    array: np.ndarray
    where: str


def bind_inputs(
    specs: Sequence[TensorSpec], tensors: Sequence[RequestTensor], model: str
) -> tuple[dict[str, np.ndarray], int]:
    """The model's inputs by name, checked and cast, and the number of rows they hold."""
    pairs = _match(specs, tensors, model)
    bound: dict[str, np.ndarray] = {}
    rows: int | None = None
    for spec, tensor in pairs:
        array = _conform(spec, tensor, model)
        if rows is not None and array.shape[0] != rows:
            raise InvalidInput(
                f"{tensor.where} has {array.shape[0]} rows but the other inputs have {rows}; "
                f"every input of model '{model}' needs the same number of rows"
            )
        rows = array.shape[0]
        bound[spec.name] = array
    assert rows is not None
    return bound, rows


def _match(
    specs: Sequence[TensorSpec], tensors: Sequence[RequestTensor], model: str
) -> list[tuple[TensorSpec, RequestTensor]]:
    if not tensors:
        raise InvalidInput("the request has no inputs")
    if len(specs) == 1 and len(tensors) == 1:
        # A single-input model takes its one tensor whatever the client named it.
        return [(specs[0], tensors[0])]
    expected = ", ".join(spec.name for spec in specs)
    by_name = {tensor.name: tensor for tensor in tensors}
    if all(spec.name in by_name for spec in specs):
        unknown = [name for name in by_name if name not in {spec.name for spec in specs}]
        if unknown:
            raise InvalidInput(f"input '{unknown[0]}' is not an input of model '{model}'; it takes {expected}")
        return [(spec, by_name[spec.name]) for spec in specs]
    if len(tensors) == 1 and all(len(spec.shape) == 1 for spec in specs):
        # Column-based models (e.g. MLflow column signatures) also take one 2-D table.
        table = tensors[0]
        if table.array.ndim == 2 and table.array.shape[1] == len(specs):
            return [
                (spec, RequestTensor(spec.name, table.array[:, i], f"{table.where} column {i}"))
                for i, spec in enumerate(specs)
            ]
        raise InvalidInput(
            f"{table.where} has shape {list(table.array.shape)}; model '{model}' expects "
            f"{len(specs)} columns ({expected}), as one [rows, {len(specs)}] tensor or one tensor per column"
        )
    missing = [spec.name for spec in specs if spec.name not in by_name]
    raise InvalidInput(f"model '{model}' needs inputs {expected}; the request lacks {', '.join(missing)}")


def _conform(spec: TensorSpec, tensor: RequestTensor, model: str) -> np.ndarray:
    array = tensor.array
    if array.ndim == 0 or array.shape[0] == 0:
        raise InvalidInput(f"{tensor.where} is empty; send at least one row")
    if len(spec.shape) == 1 and array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != len(spec.shape) or any(
        want not in (-1, got) for want, got in zip(spec.shape[1:], array.shape[1:], strict=False)
    ):
        raise InvalidInput(_shape_message(spec, tensor.where, array.shape, model))
    return cast_to(spec, array, tensor.where, f"model '{model}'")


def _shape_message(spec: TensorSpec, where: str, shape: tuple[int, ...], model: str) -> str:
    if len(spec.shape) == 2 and len(shape) == 2 and spec.shape[1] != -1:
        return (
            f"{where} rows have {shape[1]} features; model '{model}' expects {spec.shape[1]} "
            f"(shape [-1, {spec.shape[1]}])"
        )
    if len(spec.shape) == 2 and len(shape) == 1:
        return (
            f"{where} is a flat list of {shape[0]} values; model '{model}' expects a list of rows "
            f"(shape {list(spec.shape)})"
        )
    return f"{where} has shape {list(shape)}; model '{model}' expects {list(spec.shape)}"


def cast_to(spec: TensorSpec, array: np.ndarray, where: str, by: str) -> np.ndarray:
    """`array` as the spec's datatype, refusing values that would not survive the cast;
    `by` names who expects the datatype (the model, or the request's own declaration)."""
    target = NUMPY_DTYPES[spec.datatype]
    kind = array.dtype.kind
    if spec.datatype == "BYTES":
        if kind not in "USO":
            raise InvalidInput(f"{where} holds numbers; {by} expects text (BYTES)")
        return array if kind == "O" else array.astype(object)
    if spec.datatype == "BOOL":
        if kind != "b":
            raise InvalidInput(f"{where} must hold true/false values; {by} expects BOOL")
        return array
    if kind not in "iuf":
        index = first_index(np.ones(array.shape, dtype=bool))
        raise InvalidInput(
            f"{where}{index_text(index)} is {describe(array[index])}; {by} expects numbers ({spec.datatype})"
        )
    if target.kind in "iu":
        if kind == "f":
            fractional = np.mod(array, 1) != 0
            if fractional.any():
                index = first_index(fractional)
                raise InvalidInput(
                    f"{where}{index_text(index)} is {describe(array[index])}; {by} expects integers ({spec.datatype})"
                )
        info = np.iinfo(target)
        if array.size and (array.min() < info.min or array.max() > info.max):
            index = first_index((array < info.min) | (array > info.max))
            raise InvalidInput(f"{where}{index_text(index)} = {describe(array[index])} does not fit in {spec.datatype}")
    cast = array if array.dtype == target else array.astype(target)
    if target.kind == "f":
        finite = np.isfinite(cast)
        if not finite.all():
            index = first_index(~finite)
            raise InvalidInput(
                f"{where}{index_text(index)} is {describe(cast[index])}; only finite numbers are accepted"
            )
    return cast
