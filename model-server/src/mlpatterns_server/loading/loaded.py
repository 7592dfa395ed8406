"""What every loaded model offers the server, whatever its format."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from mlpatterns_server.protocol.tensors import TensorSpec

Tensors = dict[str, np.ndarray]


class LoadedModel(ABC):
    """A loaded model with its real input and output tensors; the first output is the default answer."""

    format: ClassVar[str]

    def __init__(self, source: Path, inputs: list[TensorSpec], outputs: list[TensorSpec]) -> None:
        self.source = source
        self.inputs = inputs
        self.outputs = outputs

    @abstractmethod
    def predict(self, inputs: Tensors, outputs: Sequence[str]) -> Tensors:
        """The named outputs for a batch of rows; every output keeps the rows on its first axis."""

    def describe(self) -> str:
        return f"{self.format} model from {self.source.name}"

    def output(self, name: str) -> TensorSpec | None:
        return next((spec for spec in self.outputs if spec.name == name), None)
