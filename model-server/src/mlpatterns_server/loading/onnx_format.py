"""ONNX models, run by onnxruntime on the CPU."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mlpatterns_server.errors import ModelLoadError
from mlpatterns_server.loading.loaded import LoadedModel, Tensors
from mlpatterns_server.protocol.tensors import NUMPY_DTYPES, TensorSpec

log = logging.getLogger(__name__)

_ONNX_DATATYPES = {
    "tensor(bool)": "BOOL",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}


def _spec(node: Any) -> TensorSpec | None:
    datatype = _ONNX_DATATYPES.get(node.type)
    if datatype is None:
        return None
    # Symbolic or unknown dimensions (None, "N", "batch") take any size.
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in node.shape)
    return TensorSpec(node.name, datatype, shape)


class OnnxModel(LoadedModel):
    format: ClassVar[str] = "onnx"

    def __init__(self, session: Any, source: Path) -> None:
        self.session = session
        inputs = []
        for node in session.get_inputs():
            spec = _spec(node)
            if spec is None:
                raise ModelLoadError(f"{source.name}: input '{node.name}' is a {node.type}, not a tensor")
            inputs.append(spec)
        outputs = []
        for node in session.get_outputs():
            spec = _spec(node)
            if spec is None:
                log.warning(
                    "%s: output '%s' is a %s, not a tensor, and is not served "
                    "(convert scikit-learn classifiers with options={'zipmap': False})",
                    source.name,
                    node.name,
                    node.type,
                )
                continue
            outputs.append(spec)
        if not outputs:
            raise ModelLoadError(f"{source.name} has no tensor outputs to serve")
        super().__init__(source, inputs, outputs)

    def predict(self, inputs: Tensors, outputs: Sequence[str]) -> Tensors:
        feed = {spec.name: np.asarray(inputs[spec.name], dtype=NUMPY_DTYPES[spec.datatype]) for spec in self.inputs}
        return dict(zip(outputs, self.session.run(list(outputs), feed), strict=True))


def load(path: Path, trusted_types: Sequence[str] = ()) -> OnnxModel:
    """The format table's entry point (`trusted_types` concerns .skops files only)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return OnnxModel(session, path)
