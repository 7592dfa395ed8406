#!/bin/sh
# Install the model server with exactly its locked runtime dependencies (no dev tools, no training
# code) into a new virtualenv. Run from the repository root; used by the Dockerfile and the tests.
#   model-server/docker/install-runtime.sh /opt/venv [python]
set -eu
venv="$1"
python="${2:-python3}"
uv="${UV:-uv}"
requirements="$(mktemp)"
"$uv" export --quiet --frozen --no-dev --package mlpatterns-server --no-emit-workspace --no-hashes -o "$requirements"
"$uv" venv --quiet --python "$python" "$venv"
"$uv" pip install --quiet --python "$venv/bin/python" -r "$requirements"
"$uv" pip install --quiet --python "$venv/bin/python" --no-deps ./model-server
rm -f "$requirements"
