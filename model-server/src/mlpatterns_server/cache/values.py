"""A model's outputs as cache values: a small JSON header (name, dtype, shape of each) and the raw
array bytes. Decoded, they are the same arrays, so the answer encoded from a cached value is byte
for byte the answer the model gave. No pickle: whoever can write to Redis cannot run code here."""

from __future__ import annotations

import numpy as np
import orjson

from mlpatterns_server.loading.loaded import Tensors

# Object arrays (labels that are strings) travel as fixed-width unicode and come back as objects.
_OBJECT_AS_UNICODE = "O:U"


def encode_outputs(outputs: Tensors) -> bytes | None:
    """The value to cache, or None when an output cannot be stored without pickle."""
    header = []
    chunks = []
    for name, array in outputs.items():
        dtype = array.dtype.str
        if array.dtype == object:
            if not all(isinstance(item, str) for item in array.flat):
                return None
            array = array.astype(str)
            dtype = f"{_OBJECT_AS_UNICODE}{array.dtype.str}"
        data = np.ascontiguousarray(array).tobytes()
        header.append([name, dtype, list(array.shape), len(data)])
        chunks.append(data)
    return orjson.dumps(header) + b"\n" + b"".join(chunks)


def decode_outputs(value: bytes) -> Tensors:
    """The arrays of a cached value; raises ValueError if the value is not one of ours."""
    line_end = value.index(b"\n")
    header = orjson.loads(value[:line_end])
    outputs: Tensors = {}
    offset = line_end + 1
    for name, dtype, shape, size in header:
        as_object = dtype.startswith(_OBJECT_AS_UNICODE)
        raw = np.frombuffer(value[offset : offset + size], dtype=np.dtype(dtype.removeprefix(_OBJECT_AS_UNICODE)))
        array = raw.reshape(shape)
        outputs[name] = array.astype(object) if as_object else array
        offset += size
    if offset != len(value):
        raise ValueError("cached value has trailing bytes")
    return outputs
