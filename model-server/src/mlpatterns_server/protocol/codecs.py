"""The protocols as the data plane sees them: a codec turns a request body into the tensors it
carries and the outputs it asks for, and the outputs back into the answer's bytes. Codecs are
plain module-level objects, so a large body can be decoded in the helper process (offload.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlpatterns_server.model import ServedModel
from mlpatterns_server.protocol import seldon, v1, v2
from mlpatterns_server.protocol.binding import RequestTensor
from mlpatterns_server.protocol.jsonio import dump_json
from mlpatterns_server.protocol.tensors import TensorSpec


@dataclass
class Decoded:
    tensors: list[RequestTensor]
    # Output names the request asks for (v2's "outputs"); empty: the codec's default.
    requested: tuple[str, ...]
    # What encoding the answer needs of the request (v2: its id and binary wishes).
    request: Any = None


def error_body(status: int, message: str) -> bytes:
    """KServe's error answer, for v1 and v2."""
    return dump_json({"error": message})


class V1Codec:
    """KServe v1: {"instances": [...]} in, {"predictions": [...]} out."""

    name = "v1"
    error_body = staticmethod(error_body)

    def decode(self, body: bytes, specs: Sequence[TensorSpec], binary_header: str | None) -> Decoded:
        return Decoded(v1.decode(body, specs), ())

    def offloadable(self, binary_header: str | None) -> bool:
        return True

    def outputs(self, decoded: Decoded, model: ServedModel) -> tuple[str, ...]:
        return (model.v1_output,)

    def encode(
        self, decoded: Decoded, model: ServedModel, request_id: str, outputs: dict[str, np.ndarray]
    ) -> tuple[bytes, dict[str, str]]:
        return v1.encode(outputs[model.v1_output]), {}


class V2Codec:
    """The Open Inference Protocol, JSON and binary tensors."""

    name = "v2"
    error_body = staticmethod(error_body)

    def decode(self, body: bytes, specs: Sequence[TensorSpec], binary_header: str | None) -> Decoded:
        request = v2.decode(body, binary_header)
        return Decoded(request.tensors, tuple(request.outputs), request)

    def offloadable(self, binary_header: str | None) -> bool:
        # Binary tensors decode at memory speed; only a large JSON body is worth the helper.
        return binary_header is None

    def outputs(self, decoded: Decoded, model: ServedModel) -> tuple[str, ...]:
        return model.check_outputs(list(decoded.requested))

    def encode(
        self, decoded: Decoded, model: ServedModel, request_id: str, outputs: dict[str, np.ndarray]
    ) -> tuple[bytes, dict[str, str]]:
        return v2.encode(decoded.request, model.name, model.version, request_id, outputs)


class SeldonCodec(V1Codec):
    """Seldon Core's SeldonMessage: data.ndarray, data.tensor or jsonData in, the same kind out
    with the model's v1 output (what v1 answers, in Seldon's envelope); errors as its status."""

    name = "seldon"
    error_body = staticmethod(seldon.error_body)

    def decode(self, body: bytes, specs: Sequence[TensorSpec], binary_header: str | None) -> Decoded:
        tensors, request = seldon.decode(body, specs)
        return Decoded(tensors, (), request)

    def encode(
        self, decoded: Decoded, model: ServedModel, request_id: str, outputs: dict[str, np.ndarray]
    ) -> tuple[bytes, dict[str, str]]:
        return seldon.encode(decoded.request, model.name, model.version, outputs[model.v1_output]), {}


Codec = V1Codec | V2Codec | SeldonCodec
V1 = V1Codec()
V2 = V2Codec()
SELDON = SeldonCodec()
