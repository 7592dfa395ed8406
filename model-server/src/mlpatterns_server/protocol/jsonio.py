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
        if "recursion" in str(exc).lower():
            raise InvalidInput("request body is nested too deeply to read (more than 1024 levels)") from None
        try:
            # NaN, Infinity and 1e999 are not JSON, but Python's parser reads them: let the
            # input checks say which element is not finite instead of a bare syntax error.
            return json.loads(body)
        except RecursionError:
            raise InvalidInput("request body is nested too deeply to read") from None
        except ValueError:
            raise InvalidInput(f"request body is not valid JSON: {exc}") from None


def may_hold_booleans(body: bytes) -> bool:
    """Whether a JSON body could hold `true` or `false` anywhere: when it cannot (the usual case),
    tensors need no search for booleans posing as numbers."""
    return b"true" in body or b"false" in body


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
