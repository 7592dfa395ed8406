"""Open Inference Protocol (KServe v2) infer requests and responses, JSON and the binary tensor
extension (`Inference-Header-Content-Length`) that Triton's clients use by default."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlpatterns_server.errors import InvalidInput
from mlpatterns_server.protocol.arrays import array_from_json, describe, first_index, index_text
from mlpatterns_server.protocol.binding import RequestTensor, cast_to
from mlpatterns_server.protocol.jsonio import dump_json, jsonable, may_hold_booleans, parse_json
from mlpatterns_server.protocol.tensors import NUMPY_DTYPES, TensorSpec, datatype_of

HEADER_LENGTH = "inference-header-content-length"
DECLARED = "its declared datatype"
# More dimensions than any model's tensor has (NumPy itself stops at 64).
MAX_DIMENSIONS = 32


@dataclass
class InferRequest:
    id: str | None
    tensors: list[RequestTensor]
    # Requested output names, each with its binary_data wish (None: follow binary_data_output).
    outputs: dict[str, bool | None] = field(default_factory=dict)
    binary_output: bool = False


def decode(body: bytes, header_length: str | None) -> InferRequest:
    json_part, binary = _split(body, header_length)
    document = parse_json(json_part)
    if not isinstance(document, dict):
        raise InvalidInput(f"request body must be a JSON object with an 'inputs' list, not {describe(document)}")
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("'inputs' must be a non-empty list of tensors ({name, shape, datatype, data})")
    offset = 0
    tensors = []
    booleans = may_hold_booleans(json_part)
    for i, item in enumerate(inputs):
        tensor, offset = _tensor(item, i, binary, offset, booleans)
        tensors.append(tensor)
    if offset != len(binary):
        raise InvalidInput(f"{len(binary) - offset} bytes of binary data follow the inputs unused")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput(f"'id' must be a string, not {describe(request_id)}")
    return InferRequest(
        id=request_id,
        tensors=tensors,
        outputs=_requested_outputs(document.get("outputs")),
        binary_output=_flag(_parameters(document, "request"), "binary_data_output", "parameters") or False,
    )


def _flag(parameters: Mapping[str, Any], name: str, where: str) -> bool | None:
    """A boolean parameter: JSON true or false only (the string "false" is not false)."""
    value = parameters.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f"{where}.{name} must be true or false, not {describe(value)}")
    return value


def _split(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    try:
        length = int(header_length)
    except ValueError:
        raise InvalidInput(f"header Inference-Header-Content-Length is {header_length!r}, not a number") from None
    if not 0 < length <= len(body):
        raise InvalidInput(f"header Inference-Header-Content-Length is {length} but the body has {len(body)} bytes")
    return body[:length], body[length:]


def _tensor(item: Any, i: int, binary: bytes, offset: int, booleans: bool) -> tuple[RequestTensor, int]:
    where = f"inputs[{i}]"
    if not isinstance(item, dict):
        raise InvalidInput(f"{where} must be an object with name, shape, datatype and data")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{where} has no 'name'")
    where = f"inputs[{i}] ('{name}')"
    shape = item.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InvalidInput(f"{where}.shape must be a list of non-negative integers, not {shape!r}")
    if len(shape) > MAX_DIMENSIONS:
        raise InvalidInput(f"{where}.shape has {len(shape)} dimensions; at most {MAX_DIMENSIONS} are accepted")
    datatype = item.get("datatype")
    if datatype not in NUMPY_DTYPES:
        raise InvalidInput(f"{where}.datatype {datatype!r} is not one of {', '.join(NUMPY_DTYPES)}")
    size = math.prod(shape)
    spec = TensorSpec(name, datatype, tuple(shape))
    parameters = _parameters(item, where)
    if "data" in item:
        # BOOL tensors hold booleans by right: no search for impostors among numbers there.
        array = array_from_json(item["data"], f"{where}.data", booleans and datatype != "BOOL")
        if array.size != size:
            raise InvalidInput(f"{where}: shape {shape} needs {size} values, data has {array.size}")
        # Cast as sent, so an error's index points into the data the client wrote.
        array = cast_to(spec, array, f"{where}.data", DECLARED).reshape(shape)
    elif "binary_data_size" in parameters:
        array, offset = _binary(spec, parameters["binary_data_size"], binary, offset, where)
    else:
        raise InvalidInput(f"{where} has neither 'data' nor parameters.binary_data_size")
    return RequestTensor(name, array, f"{where}.data"), offset


def _binary(spec: TensorSpec, length: Any, binary: bytes, offset: int, where: str) -> tuple[np.ndarray, int]:
    if not isinstance(length, int) or length < 0:
        raise InvalidInput(f"{where}.parameters.binary_data_size must be a non-negative integer")
    end = offset + length
    if end > len(binary):
        raise InvalidInput(f"{where} needs {length} bytes of binary data; only {len(binary) - offset} remain")
    raw = binary[offset:end]
    size = math.prod(spec.shape)
    if spec.datatype == "BYTES":
        from kserve.protocol.infer_type import deserialize_bytes_tensor  # KServe's codec; only BYTES needs it

        try:
            array = deserialize_bytes_tensor(raw)
        except Exception:
            raise InvalidInput(f"{where} binary BYTES data is not length-prefixed strings") from None
    else:
        itemsize = NUMPY_DTYPES[spec.datatype].itemsize
        if length != size * itemsize:
            raise InvalidInput(
                f"{where}: shape {list(spec.shape)} of {spec.datatype} needs {size * itemsize} bytes, got {length}"
            )
        array = np.frombuffer(raw, dtype=NUMPY_DTYPES[spec.datatype])
        if spec.datatype == "BOOL" and array.size:
            as_bytes = array.view(np.uint8)
            if as_bytes.max() > 1:  # NumPy would read any non-zero byte as True
                index = first_index(as_bytes > 1)
                raise InvalidInput(
                    f"{where} binary BOOL data holds byte {int(as_bytes[index])} at {index_text(index)}; "
                    "a BOOL is one byte, 0 or 1"
                )
    if array.size != size:
        raise InvalidInput(f"{where}: shape {list(spec.shape)} needs {size} values, binary data has {array.size}")
    array = array.reshape(spec.shape)
    return (cast_to(spec, array, f"{where}.data", DECLARED) if spec.is_float else array), end


def _requested_outputs(outputs: Any) -> dict[str, bool | None]:
    if outputs is None:
        return {}
    if not isinstance(outputs, list):
        raise InvalidInput("'outputs' must be a list of {name} objects")
    requested: dict[str, bool | None] = {}
    for i, output in enumerate(outputs):
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise InvalidInput(f"outputs[{i}] must be an object with a 'name'")
        requested[output["name"]] = _flag(
            _parameters(output, f"outputs[{i}]"), "binary_data", f"outputs[{i}].parameters"
        )
    return requested


def _parameters(item: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    parameters = item.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput(f"{where}.parameters must be an object")
    return parameters


def encode(
    request: InferRequest, model: str, version: str, request_id: str, outputs: Mapping[str, np.ndarray]
) -> tuple[bytes, dict[str, str]]:
    """The response body and the headers it needs (the JSON length when binary outputs follow)."""
    described = []
    raw_parts = []
    for name, array in outputs.items():
        wish = request.outputs.get(name)
        binary = request.binary_output if wish is None else wish
        entry: dict[str, Any] = {"name": name, "datatype": datatype_of(array.dtype), "shape": list(array.shape)}
        if binary:
            raw = _raw(array)
            entry["parameters"] = {"binary_data_size": len(raw)}
            raw_parts.append(raw)
        else:
            entry["data"] = jsonable(array.ravel())
        described.append(entry)
    document = {
        "model_name": model,
        "model_version": version,
        "id": request.id if request.id is not None else request_id,
        "outputs": described,
    }
    body = dump_json(document)
    if not raw_parts:
        return body, {}
    return body + b"".join(raw_parts), {HEADER_LENGTH: str(len(body))}


def _raw(array: np.ndarray) -> bytes:
    if datatype_of(array.dtype) == "BYTES":
        from kserve.protocol.infer_type import serialize_byte_tensor

        text = np.vectorize(lambda v: v if isinstance(v, bytes) else str(v).encode(), otypes=[object])(array)
        serialized = serialize_byte_tensor(text)
        return serialized.item() if serialized.size else b""
    return np.ascontiguousarray(array).tobytes()
