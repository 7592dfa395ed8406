"""The served model: a loaded model with its name and version, the checks of what a request asks
of it, and the fast path every front-end calls. No KServe here: a serving process imports kserve
(the Kubernetes client, pandas) only when asked to run under stock KServe (kserve_model.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlpatterns_server.errors import InvalidInput, ModelNotReady
from mlpatterns_server.loading.formats import load_model
from mlpatterns_server.loading.loaded import LoadedModel, Tensors
from mlpatterns_server.protocol.binding import RequestTensor, bind_inputs
from mlpatterns_server.settings import ServerSettings


class ServedModel:
    def __init__(
        self,
        name: str,
        path: Path,
        version: str,
        model_format: str = "auto",
        predict_proba: bool = False,
        skops_trusted_types: Sequence[str] = (),
        loaded: LoadedModel | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.version = version
        self.model_format = model_format
        self.skops_trusted_types = tuple(skops_trusted_types)
        self.predict_proba = predict_proba
        self.load_seconds = 0.0
        self._loaded = loaded
        self.ready = loaded is not None

    @classmethod
    def from_settings(cls, settings: ServerSettings, loaded: LoadedModel | None = None) -> ServedModel:
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
            loaded,
        )

    def load(self) -> bool:
        started = time.perf_counter()
        self._loaded = load_model(self.path, self.model_format, self.skops_trusted_types)
        self.load_seconds = time.perf_counter() - started
        self.ready = True
        return True

    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            raise ModelNotReady(f"model '{self.name}' is not loaded yet")
        return self._loaded

    @property
    def v1_output(self) -> str:
        """What v1 answers with: labels, or class probabilities when asked and available."""
        if self.predict_proba and self.loaded.output("predict_proba") is not None:
            return "predict_proba"
        return self.loaded.outputs[0].name

    @property
    def transform_output(self) -> str:
        """What a transformer sends on: the preprocessor's features, else its first output."""
        if self.loaded.output("transform") is not None:
            return "transform"
        return self.loaded.outputs[0].name

    def bind(self, tensors: Sequence[RequestTensor]) -> tuple[Tensors, int]:
        return bind_inputs(self.loaded.inputs, tensors, self.name)

    def check_outputs(self, names: Sequence[str]) -> tuple[str, ...]:
        if not names:
            return (self.loaded.outputs[0].name,)
        known = [spec.name for spec in self.loaded.outputs]
        for name in names:
            if name not in known:
                raise InvalidInput(
                    f"output '{name}' is not an output of model '{self.name}'; it has {', '.join(known)}"
                )
        return tuple(names)

    def infer(self, inputs: Tensors, outputs: Sequence[str]) -> Tensors:
        """The fast path: bound inputs in, the named outputs out."""
        try:
            return self.loaded.predict(inputs, outputs)
        except (ValueError, TypeError) as exc:
            # Inputs passed our checks, so what the model still refuses is about the data sent.
            raise InvalidInput(f"model '{self.name}' refused the input: {exc}") from None

    def metadata(self) -> dict[str, Any]:
        """The Open Inference Protocol's model metadata: its real inputs and outputs."""
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": self.loaded.format,
            "inputs": [spec.metadata() for spec in self.loaded.inputs],
            "outputs": [spec.metadata() for spec in self.loaded.outputs],
        }
