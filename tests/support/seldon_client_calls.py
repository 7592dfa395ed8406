"""Calls a running server with Seldon Core's own `SeldonClient` and prints what it got, as JSON.

Run by the Python of the seldon-core environment (.tools/seldon, made by `make setup`): seldon-core
cannot share an environment with kfp or kserve, so this script imports nothing of the project.

    python seldon_client_calls.py HOST:PORT '[[5.1, 3.5, 1.4, 0.2], ...]'
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
from google.protobuf import json_format
from seldon_core.seldon_client import SeldonClient


def outcome(prediction: Any) -> dict[str, Any]:
    response = prediction.response
    if response is not None and not isinstance(response, dict):
        response = json_format.MessageToDict(response)
    return {"success": prediction.success, "msg": prediction.msg, "response": response}


def main() -> None:
    endpoint, rows = sys.argv[1], np.array(json.loads(sys.argv[2]))
    client = SeldonClient(gateway="seldon", transport="rest", gateway_endpoint=endpoint)
    calls = {
        # The external API (Seldon Core 1's executor; what `gateway="seldon"` posts to).
        f"external-{kind}": client.predict(data=rows, payload_type=kind, client_return_type="dict")
        for kind in ("ndarray", "tensor")
    }
    for kind in ("ndarray", "tensor"):
        # The microservice API: /predict with the message form-encoded, as the executor's peers are called.
        calls[f"microservice-{kind}"] = client.microservice(
            method="predict", microservice_endpoint=endpoint, data=rows, payload_type=kind
        )
    calls["external-wrong-features"] = client.predict(
        data=rows[:, :3], payload_type="ndarray", client_return_type="dict"
    )
    print(json.dumps({name: outcome(prediction) for name, prediction in calls.items()}))


if __name__ == "__main__":
    main()
