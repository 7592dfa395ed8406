"""The served model: a `kserve.Model`, so it also runs under a stock `kserve.ModelServer`, with the
fast path our own server calls directly."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kserve
import kserve.errors
import numpy as np
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from mlpatterns_server.errors import InvalidInput, ModelNotReady
from mlpatterns_server.loading.formats import load_predictor
from mlpatterns_server.loading.predictor import Predictor, Tensors
from mlpatterns_server.protocol import v1
from mlpatterns_server.protocol.binding import RequestTensor, bind_inputs
from mlpatterns_server.protocol.tensors import datatype_of
from mlpatterns_server.settings import ModelFormat, ServerSettings


class ServedModel(kserve.Model):  # type: ignore[misc]
    def __init__(
        self,
        name: str,
        path: Path,
        version: str,
        model_format: ModelFormat = "auto",
        predict_proba: bool = False,
        skops_trusted_types: Sequence[str] = (),
        predictor: Predictor | None = None,
    ) -> None:
        super().__init__(name)
        self.path = path
        self.version = version
        self.model_format = model_format
        self.skops_trusted_types = tuple(skops_trusted_types)
        self.predict_proba = predict_proba
        self.load_seconds = 0.0
        self._predictor = predictor
        self.ready = predictor is not None

    @classmethod
    def from_settings(cls, settings: ServerSettings, predictor: Predictor | None = None) -> ServedModel:
        """The model as fetched: settings.model_dir is local and settings.model_version set."""
        assert settings.model_dir is not None
        assert settings.model_version is not None
        return cls(
            settings.model_name,
            Path(settings.model_dir),
            settings.model_version,
            settings.model_format,
            settings.predict_proba,
            settings.skops_trusted_types,
            predictor,
        )

    def load(self) -> bool:
        started = time.perf_counter()
        self._predictor = load_predictor(self.path, self.model_format, self.skops_trusted_types)
        self.load_seconds = time.perf_counter() - started
        self.ready = True
        return True

    @property
    def predictor(self) -> Predictor:
        if self._predictor is None:
            raise ModelNotReady(f"model '{self.name}' is not loaded yet")
        return self._predictor

    @property
    def v1_output(self) -> str:
        """What v1 answers with: labels, or class probabilities when asked and available."""
        if self.predict_proba and self.predictor.output("predict_proba") is not None:
            return "predict_proba"
        return self.predictor.outputs[0].name

    @property
    def transform_output(self) -> str:
        """What a transformer sends on: the preprocessor's features, else its first output."""
        if self.predictor.output("transform") is not None:
            return "transform"
        return self.predictor.outputs[0].name

    def bind(self, tensors: Sequence[RequestTensor]) -> tuple[Tensors, int]:
        return bind_inputs(self.predictor.inputs, tensors, self.name)

    def check_outputs(self, names: Sequence[str]) -> tuple[str, ...]:
        if not names:
            return (self.predictor.outputs[0].name,)
        known = [spec.name for spec in self.predictor.outputs]
        for name in names:
            if name not in known:
                raise InvalidInput(
                    f"output '{name}' is not an output of model '{self.name}'; it has {', '.join(known)}"
                )
        return tuple(names)

    def infer(self, inputs: Tensors, outputs: Sequence[str]) -> Tensors:
        """The fast path: bound inputs in, the named outputs out."""
        try:
            return self.predictor.predict(inputs, outputs)
        except (ValueError, TypeError) as exc:
            # Inputs passed our checks, so what the model still refuses is about the data sent.
            raise InvalidInput(f"model '{self.name}' refused the input: {exc}") from None

    # -- KServe's Model contract, for running this model under kserve.ModelServer

    async def predict(
        self,
        payload: dict[str, Any] | InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | InferResponse:
        try:
            return self._kserve_predict(payload)
        except InvalidInput as error:
            # KServe's own handlers answer its InvalidInput with a 400.
            raise kserve.errors.InvalidInput(error.message) from None

    def _kserve_predict(self, payload: dict[str, Any] | InferRequest) -> dict[str, Any] | InferResponse:
        if isinstance(payload, InferRequest):
            tensors = [
                RequestTensor(item.name, item.as_numpy(), f"inputs[{i}] ('{item.name}')")
                for i, item in enumerate(payload.inputs)
            ]
            requested = [output.name for output in payload.request_outputs or []]
            outputs = self.infer(self.bind(tensors)[0], self.check_outputs(requested))
            return InferResponse(
                response_id=payload.id or "",
                model_name=self.name,
                model_version=self.version,
                infer_outputs=[_infer_output(name, array) for name, array in outputs.items()],
            )
        tensors = v1.decode_document(payload, self.predictor.inputs)
        answer = self.v1_output
        return {"predictions": self.infer(self.bind(tensors)[0], (answer,))[answer].tolist()}

    def get_input_types(self) -> list[dict[str, Any]]:
        return [spec.metadata() for spec in self.predictor.inputs]

    def get_output_types(self) -> list[dict[str, Any]]:
        return [spec.metadata() for spec in self.predictor.outputs]

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": self.predictor.format,
            "inputs": self.get_input_types(),
            "outputs": self.get_output_types(),
        }


def _infer_output(name: str, array: np.ndarray) -> InferOutput:
    output = InferOutput(name=name, shape=list(array.shape), datatype=datatype_of(array.dtype))
    output.set_data_from_numpy(array, binary_data=False)
    return output
