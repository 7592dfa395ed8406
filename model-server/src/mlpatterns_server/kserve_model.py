"""The served model as a `kserve.Model`, to run under a stock `kserve.ModelServer` with our input
checks and errors (as KServe's 400s). Only this module imports kserve: our own server never does.

    model = KServeModel(ServedModel("iris", path, version="1"))
    model.load()
    kserve.ModelServer().start([model])
"""

from __future__ import annotations

from typing import Any

import kserve
import kserve.errors
import numpy as np
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from mlpatterns_server.errors import InvalidInput
from mlpatterns_server.model import ServedModel
from mlpatterns_server.protocol import v1
from mlpatterns_server.protocol.binding import RequestTensor
from mlpatterns_server.protocol.tensors import datatype_of


class KServeModel(kserve.Model):  # type: ignore[misc]
    def __init__(self, served: ServedModel) -> None:
        super().__init__(served.name)
        self.served = served
        self.ready = served.ready

    def load(self) -> bool:
        self.served.load()
        self.ready = True
        return True

    async def predict(
        self,
        payload: dict[str, Any] | InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | InferResponse:
        try:
            return self._predict(payload)
        except InvalidInput as error:
            # KServe's own handlers answer its InvalidInput with a 400.
            raise kserve.errors.InvalidInput(error.message) from None

    def _predict(self, payload: dict[str, Any] | InferRequest) -> dict[str, Any] | InferResponse:
        served = self.served
        if isinstance(payload, InferRequest):
            tensors = [
                RequestTensor(item.name, item.as_numpy(), f"inputs[{i}] ('{item.name}')")
                for i, item in enumerate(payload.inputs)
            ]
            requested = [output.name for output in payload.request_outputs or []]
            outputs = served.infer(served.bind(tensors)[0], served.check_outputs(requested))
            return InferResponse(
                response_id=payload.id or "",
                model_name=served.name,
                model_version=served.version,
                infer_outputs=[_infer_output(name, array) for name, array in outputs.items()],
            )
        tensors = v1.decode_document(payload, served.loaded.inputs)
        answer = served.v1_output
        return {"predictions": served.infer(served.bind(tensors)[0], (answer,))[answer].tolist()}

    def get_input_types(self) -> list[dict[str, Any]]:
        return [spec.metadata() for spec in self.served.loaded.inputs]

    def get_output_types(self) -> list[dict[str, Any]]:
        return [spec.metadata() for spec in self.served.loaded.outputs]


def _infer_output(name: str, array: np.ndarray) -> InferOutput:
    output = InferOutput(name=name, shape=list(array.shape), datatype=datatype_of(array.dtype))
    output.set_data_from_numpy(array, binary_data=False)
    return output
