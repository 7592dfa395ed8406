"""JSON in and out of the hot path: orjson, with NumPy arrays serialised directly."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson

from mlpatterns_server.errors import InvalidInput


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if not body.strip():
            raise InvalidInput("request body is empty; send a JSON object") from None
        try:
            # NaN, Infinity and 1e999 are not JSON, but Python's parser reads them: let the
            # input checks say which element is not finite instead of a bare syntax error.
            return json.loads(body)
        except ValueError:
            raise InvalidInput(f"request body is not valid JSON: {exc}") from None


_decode_bytes = np.frompyfunc(lambda item: item.decode("utf-8", "replace") if isinstance(item, bytes) else item, 1, 1)


def jsonable(array: np.ndarray) -> Any:
    """An array as orjson can write it: numbers as NumPy arrays, text as (nested) lists of str."""
    kind = array.dtype.kind
    if kind in "biuf":
        return np.ascontiguousarray(array)
    if kind == "S":
        array = array.astype(str)
    elif kind == "O":
        array = _decode_bytes(array)
    return array.tolist()


def dump_json(document: Any) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
