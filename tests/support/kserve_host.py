"""Serve our model under stock kserve.ModelServer: `python -m tests.support.kserve_host DIR PORT`."""

import sys
from pathlib import Path

import kserve

from mlpatterns_server.kserve_model import KServeModel
from mlpatterns_server.model import ServedModel

if __name__ == "__main__":
    model = KServeModel(ServedModel("iris", Path(sys.argv[1]), version="1"))
    model.load()
    kserve.ModelServer(http_port=int(sys.argv[2]), enable_grpc=False, workers=1).start([model])
