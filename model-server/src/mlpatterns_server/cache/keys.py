"""Cache keys. A key is a digest of the model's name and version, the outputs asked for, and the
inputs *after* binding: by then the rows are in the model's column order and dtype, so the same
rows sent in another key order or number spelling (1, 1.0, 1e0) have the same key, and a new
model version never finds the old version's answers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import orjson

from mlpatterns_server.loading.loaded import Tensors

PREFIX = "mlpatterns:cache:"


def cache_key(model: str, version: str, inputs: Tensors, outputs: Sequence[str]) -> str | None:
    """The key of one request, or None when an input holds objects with no canonical bytes."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(orjson.dumps([model, version, sorted(outputs)]))
    for name in sorted(inputs):
        array = inputs[name]
        digest.update(orjson.dumps([name, array.dtype.str, array.shape]))
        if array.dtype == object:
            try:  # strings and numbers in a column model's frame
                digest.update(orjson.dumps(array.tolist()))
            except TypeError:
                return None
        else:
            digest.update(np.ascontiguousarray(array).data)
    return PREFIX + digest.hexdigest()
