"""Tensor descriptions shared by the loaders and the protocols (Open Inference Protocol datatypes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Open Inference Protocol datatypes and the NumPy dtype each decodes to.
NUMPY_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(np.object_),
}
_DATATYPES = {dtype: name for name, dtype in NUMPY_DTYPES.items() if name != "BYTES"}


def datatype_of(dtype: np.dtype[Any]) -> str:
    """The protocol datatype of a NumPy dtype; text and objects travel as BYTES."""
    return _DATATYPES.get(dtype, "BYTES")


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output: its datatype and shape, -1 for a dimension of any size."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    @property
    def is_float(self) -> bool:
        return self.datatype.startswith("FP")
