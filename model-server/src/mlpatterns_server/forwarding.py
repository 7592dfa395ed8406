"""Transformer mode: after preprocessing, the request goes on to the predictor (KServe wires its
host in with --predictor_host), and the predictor's answer comes back as it is."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import numpy as np

from mlpatterns_server.errors import ServerError
from mlpatterns_server.protocol.jsonio import dump_json, jsonable
from mlpatterns_server.protocol.tensors import datatype_of
from mlpatterns_server.settings import ServerSettings

# What travels on to the predictor: the request id (our logs join on it) and tracing and auth.
FORWARDED_HEADERS = ("x-request-id", "x-b3-traceid", "x-b3-spanid", "traceparent", "tracestate", "authorization")


class PredictorUnavailable(ServerError):
    status_code = 502


class PredictorTimeout(ServerError):
    status_code = 504


class PredictorClient:
    def __init__(self, settings: ServerSettings) -> None:
        assert settings.predictor_host is not None
        scheme = "https" if settings.predictor_use_ssl else "http"
        self.base_url = f"{scheme}://{settings.predictor_host}"
        self.protocol = settings.predictor_protocol
        self.model = settings.model_name
        self.client = httpx.AsyncClient(timeout=settings.predictor_request_timeout_seconds)

    async def predict(self, features: np.ndarray, headers: Mapping[str, str]) -> httpx.Response:
        """Send the preprocessed rows in the predictor's protocol; its answer, whatever its status.
        `headers` are the client's (lower-case names); only FORWARDED_HEADERS go on."""
        if self.protocol == "v1":
            url = f"{self.base_url}/v1/models/{self.model}:predict"
            body = dump_json({"instances": jsonable(features)})
        else:
            url = f"{self.base_url}/v2/models/{self.model}/infer"
            tensor = {
                "name": "input-0",
                "shape": list(features.shape),
                "datatype": datatype_of(features.dtype),
                "data": jsonable(features.ravel()),
            }
            body = dump_json({"id": headers.get("x-request-id"), "inputs": [tensor]})
        forwarded = {name: headers[name] for name in FORWARDED_HEADERS if name in headers}
        try:
            return await self.client.post(url, content=body, headers={**forwarded, "content-type": "application/json"})
        except httpx.TimeoutException:
            raise PredictorTimeout(f"the predictor at {self.base_url} did not answer in time") from None
        except httpx.HTTPError as error:
            raise PredictorUnavailable(f"the predictor at {self.base_url} is unreachable: {error}") from None

    async def close(self) -> None:
        await self.client.aclose()
