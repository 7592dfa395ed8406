"""A prediction-log event: built cheaply on the request path, serialised by the sender."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mlpatterns_server.loading.loaded import Tensors
from mlpatterns_server.protocol.jsonio import dump_json, jsonable


@dataclass(slots=True)
class PredictionEvent:
    request_id: str
    model: str
    version: str
    role: str
    inputs: Tensors
    outputs: Tensors
    latency_ms: float
    timestamp: float

    def to_json(self) -> bytes:
        return dump_json(
            {
                "request_id": self.request_id,
                "model": self.model,
                "version": self.version,
                "role": self.role,
                "inputs": {name: jsonable(array) for name, array in self.inputs.items()},
                "outputs": {name: jsonable(array) for name, array in self.outputs.items()},
                "latency_ms": round(self.latency_ms, 3),
                "timestamp": datetime.fromtimestamp(self.timestamp, UTC).isoformat(timespec="microseconds"),
            }
        )
