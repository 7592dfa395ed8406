"""Seldon Core's protocol (SeldonMessage), as Seldon Core 1's executor and `SeldonClient` speak it:

    {"data": {"names": [...], "ndarray": [[...], ...]}, "meta": {...}}
    {"data": {"names": [...], "tensor": {"shape": [2, 4], "values": [...]}}}
    {"jsonData": {"instances": [...]}}   (or jsonData: [row, ...])

The answer carries the same kind of payload as the request; an error is a SeldonMessage whose
`status` holds the HTTP code and what is wrong. Bodies come as JSON, or form-encoded in a `json`
field (what `SeldonClient.microservice` and Seldon's own wrapper send to `/predict`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import numpy as np

from mlpatterns_server.errors import InvalidInput
from mlpatterns_server.protocol import v1
from mlpatterns_server.protocol.arrays import array_from_json, describe, kind_of
from mlpatterns_server.protocol.binding import RequestTensor
from mlpatterns_server.protocol.jsonio import dump_json, jsonable, may_hold_booleans, parse_json
from mlpatterns_server.protocol.tensors import TensorSpec

# What Seldon's wrapper calls a client's mistake, and a fault of the server.
BAD_DATA = "MICROSERVICE_BAD_DATA"
INTERNAL_ERROR = "MICROSERVICE_INTERNAL_ERROR"
# SeldonMessage's fields (a client parsing the answer into the protobuf refuses any other).
_FIELDS = {"status", "meta", "data", "binData", "strData", "jsonData", "customData"}
_PAYLOADS = ("ndarray", "tensor", "tftensor")


@dataclass
class SeldonRequest:
    """What the answer needs of the request: the payload kind to answer in, and its meta."""

    kind: str  # ndarray, tensor or jsonData
    puid: str = ""
    tags: dict[str, Any] = field(default_factory=dict)


def decode(body: bytes, specs: Sequence[TensorSpec]) -> tuple[list[RequestTensor], SeldonRequest]:
    document = parse_json(_json_of(body))
    booleans = may_hold_booleans(body)
    if not isinstance(document, dict):
        raise InvalidInput(f"request body must be a SeldonMessage object with 'data', not {kind_of(document)}")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise InvalidInput(f"'{unknown[0]}' is not a SeldonMessage field; send 'data' (ndarray, tensor) or 'jsonData'")
    request = SeldonRequest("ndarray", *_meta(document.get("meta")))
    if "data" in document:
        tensors, request.kind = _data(document["data"], specs, booleans)
        return tensors, request
    if "jsonData" in document:
        request.kind = "jsonData"
        return _json_data(document["jsonData"], specs, booleans), request
    for payload in ("strData", "binData"):
        if payload in document:
            raise InvalidInput(f"'{payload}' is not accepted: this model takes numbers, in data.ndarray or data.tensor")
    raise InvalidInput("request has no 'data' or 'jsonData' (SeldonMessage: {\"data\": {\"ndarray\": [row, ...]}})")


def encode(request: SeldonRequest, model: str, version: str, predictions: np.ndarray) -> bytes:
    meta: dict[str, Any] = {"requestPath": {model: version}}
    if request.puid:
        meta["puid"] = request.puid
    if request.tags:
        meta["tags"] = request.tags
    if request.kind == "jsonData":
        return dump_json({"jsonData": {"predictions": jsonable(predictions)}, "meta": meta})
    names = [f"t:{i}" for i in range(predictions.shape[1])] if predictions.ndim == 2 else []
    if request.kind == "tensor" and predictions.dtype.kind in "biuf":
        tensor = {"shape": list(predictions.shape), "values": jsonable(predictions.ravel())}
        return dump_json({"data": {"names": names, "tensor": tensor}, "meta": meta})
    # Text (class labels) has no place in a tensor, whose values are doubles: an ndarray holds it.
    return dump_json({"data": {"names": names, "ndarray": jsonable(predictions)}, "meta": meta})


def read_message_list(body: bytes, steps: Sequence[str]) -> dict[str, Any]:
    """Seldon's /aggregate body, a SeldonMessageList of a COMBINER's children's answers in graph
    order, as an Ensemble's answers by step name (`steps` in the same order)."""
    document = parse_json(_json_of(body))
    messages = document.get("seldonMessages") if isinstance(document, dict) else None
    if not isinstance(messages, list):
        raise InvalidInput('the body must be a SeldonMessageList: {"seldonMessages": [message, ...]}')
    if len(messages) != len(steps):
        raise InvalidInput(f"{len(messages)} seldonMessages for {len(steps)} children ({', '.join(steps)})")
    answers: dict[str, Any] = {}
    for i, (step, message) in enumerate(zip(steps, messages, strict=True)):
        data = message.get("data") if isinstance(message, dict) else None
        if isinstance(data, dict) and isinstance(data.get("ndarray"), list):
            answers[step] = {"predictions": data["ndarray"]}
        elif isinstance(data, dict) and "tensor" in data:
            answers[step] = {"predictions": _tensor_rows(data["tensor"], True)}
        else:
            raise InvalidInput(f"seldonMessages[{i}] ({step}) has no data.ndarray or data.tensor to combine")
    return answers


def error_body(status: int, message: str) -> bytes:
    reason = INTERNAL_ERROR if status >= 500 else BAD_DATA
    return dump_json({"status": {"code": status, "info": message, "reason": reason, "status": "FAILURE"}})


def _json_of(body: bytes) -> bytes:
    """The JSON of a form-encoded body (`json=...`), else the body itself (a JSON object never
    starts with `j`, so no header is needed to tell them apart)."""
    if not body.startswith(b"json="):
        return body
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidInput(f"form-encoded body cannot be read: {error}") from None
    if "json" not in fields:
        raise InvalidInput("the form field 'json' is empty; send the SeldonMessage in it")
    return fields["json"][0].encode()


def _meta(meta: Any) -> tuple[str, dict[str, Any]]:
    if meta is None:
        return "", {}
    if not isinstance(meta, dict):
        raise InvalidInput(f"'meta' must be an object, not {kind_of(meta)}")
    puid, tags = meta.get("puid", ""), meta.get("tags", {})
    if not isinstance(puid, str):
        raise InvalidInput(f"meta.puid must be a string, not {kind_of(puid)}")
    if not isinstance(tags, dict):
        raise InvalidInput(f"meta.tags must be an object, not {kind_of(tags)}")
    return puid, tags


def _data(data: Any, specs: Sequence[TensorSpec], booleans: bool) -> tuple[list[RequestTensor], str]:
    if not isinstance(data, dict):
        raise InvalidInput(f"'data' must be an object with 'ndarray' or 'tensor', not {kind_of(data)}")
    kinds = [kind for kind in _PAYLOADS if kind in data]
    if not kinds:
        raise InvalidInput("'data' has no 'ndarray' or 'tensor'; send data.ndarray: [row, ...]")
    if len(kinds) > 1:
        raise InvalidInput(f"'data' has both '{kinds[0]}' and '{kinds[1]}'; send one")
    kind = kinds[0]
    if kind == "tftensor":
        raise InvalidInput("data.tftensor is not accepted; send data.ndarray or data.tensor")
    names = data.get("names", [])
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise InvalidInput("data.names must be a list of column names (strings)")
    rows = _tensor_rows(data["tensor"], booleans) if kind == "tensor" else data["ndarray"]
    where = f"data.{kind}"
    if not isinstance(rows, list):
        raise InvalidInput(f"data.ndarray must be a list of rows, not {kind_of(rows)}")
    if not rows:
        raise InvalidInput(f"{where} is empty; send at least one row")
    if len(specs) > 1 and names:
        return _columns(rows, names, specs, booleans, where), kind
    return [RequestTensor(where, array_from_json(rows, where, booleans), where)], kind


def _tensor_rows(tensor: Any, booleans: bool) -> Any:
    """A tensor's values as nested rows, after checking its shape holds them."""
    if not isinstance(tensor, dict):
        raise InvalidInput(f"data.tensor must be an object with 'shape' and 'values', not {kind_of(tensor)}")
    shape, values = tensor.get("shape"), tensor.get("values")
    if not isinstance(shape, list) or not shape or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise InvalidInput("data.tensor.shape must be a non-empty list of sizes, e.g. [2, 4]")
    if not isinstance(values, list):
        raise InvalidInput("data.tensor.values must be a flat list of numbers")
    flat = array_from_json(values, "data.tensor.values", booleans)
    if flat.ndim != 1:
        raise InvalidInput("data.tensor.values must be a flat list; data.tensor.shape gives its dimensions")
    if flat.dtype.kind not in "biuf":
        raise InvalidInput(f"data.tensor.values holds {describe(values[0])}; tensor values are numbers")
    needed = int(np.prod(shape))
    if flat.size != needed:
        raise InvalidInput(f"data.tensor.shape {shape} needs {needed} values, data.tensor.values has {flat.size}")
    return flat.reshape(shape).tolist()


def _columns(
    rows: list[Any], names: list[str], specs: Sequence[TensorSpec], booleans: bool, where: str
) -> list[RequestTensor]:
    """A column-based model's inputs from rows of values named by data.names."""
    objects = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            raise InvalidInput(f"{where}[{i}] must be a list of {len(names)} values, one per name in data.names")
        objects.append(dict(zip(names, row, strict=True)))
    return v1.columns_from_objects(objects, specs, booleans)


def _json_data(document: Any, specs: Sequence[TensorSpec], booleans: bool) -> list[RequestTensor]:
    """jsonData: a v1 body ({"instances": [...]}) or its rows alone."""
    if isinstance(document, list):
        document = {"instances": document}
    if not isinstance(document, dict):
        raise InvalidInput(f'jsonData must be {{"instances": [row, ...]}} or a list of rows, not {kind_of(document)}')
    try:
        return v1.decode_document(document, specs, booleans)
    except InvalidInput as error:
        raise InvalidInput(f"jsonData: {error.message}") from None
