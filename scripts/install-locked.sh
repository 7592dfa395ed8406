#!/bin/sh
# Install one of the kit's Python parts with exactly its locked dependencies (no dev tools, no
# other parts) into a new virtualenv. Run from the repository root; the Dockerfiles and the
# tests use it, so images hold what the tests checked.
#   scripts/install-locked.sh mlpatterns-server model-server /opt/venv [python]
set -eu
package="$1"
source_dir="$2"
venv="$3"
python="${4:-python3}"
uv="${UV:-uv}"
requirements="$(mktemp)"
"$uv" export --quiet --frozen --no-dev --package "$package" --no-emit-workspace --no-hashes -o "$requirements"
"$uv" venv --quiet --python "$python" "$venv"
# Bytecode compiled here, once: a pod with a read-only root filesystem (or any process under
# PYTHONDONTWRITEBYTECODE) cannot cache it and would compile every module it imports at each start.
"$uv" pip install --quiet --compile-bytecode --python "$venv/bin/python" -r "$requirements"
"$uv" pip install --quiet --compile-bytecode --python "$venv/bin/python" --no-deps "./$source_dir"
rm -f "$requirements"
