#!/usr/bin/env bash
# Install what the tests and the local runtime need: Debian packages (redis-server, Prometheus
# with promtool, wrk, curl for the README's commands, LuaJIT for the sticky EnvoyFilter's Lua), the
# Python workspace in .venv, checkov in .tools/checkov and Seldon's client in .tools/seldon.
# Idempotent; quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
UV_SPEC="uv>=0.13,<0.14"
CHECKOV_SPEC="checkov>=3.3,<3.4"
SELDON_SPEC="seldon-core>=1.19,<1.20"
SYSTEM_TOOLS=(redis-server:redis-server promtool:prometheus prometheus:prometheus wrk:wrk curl:curl luajit:luajit zsh:zsh)

missing=()
for entry in "${SYSTEM_TOOLS[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
done
if ((${#missing[@]})); then
  packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages with apt-get: $packages"
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null
  else
    echo "setup: missing system packages: $packages" >&2
    echo "setup: install them first, e.g.: sudo apt-get install -y $packages" >&2
    exit 1
  fi
fi

command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
# The interpreter itself, not a pyenv shim (a script that picks a version at each call): given a
# shim, uv finds the environment's interpreter "changed" at every run and rebuilds .venv from scratch.
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')
if [[ ! -x .tools/bin/uv ]]; then
  echo "setup: installing uv (${UV_SPEC#uv}) into .tools with pip"
  "$PYTHON" -m venv .tools
  .tools/bin/pip install -q --disable-pip-version-check "$UV_SPEC"
fi

# Only PyPI is reachable here: never let uv fetch a Python build of its own.
export UV_PYTHON_DOWNLOADS=never
# Bytecode compiled once at install: where PYTHONDONTWRITEBYTECODE is set (as on the CI machines),
# Python never caches it and every process would compile all it imports again (mlflow's import
# takes 5.1 s instead of 1.6 s; each model server, pipeline step and checkov run pays it).
export UV_COMPILE_BYTECODE=1
sync=(.tools/bin/uv sync --locked --python "$PYTHON")
if plan=$("${sync[@]}" --check 2>&1); then
  echo "setup: .venv is up to date ($(grep -o 'Checked [0-9]* packages' <<<"$plan" | cut -d' ' -f2) locked packages)"
else
  # "Would install 219 packages", "Would uninstall 1 package", ...: what this run is about to do.
  changes=$(grep -oE 'Would (install|uninstall|replace project environment)[^,]*' <<<"$plan" | sed 's/Would //' |
    paste -sd ';' | sed 's/;/, /g')
  echo "setup: syncing .venv with uv.lock, $PYTHON: ${changes:-checking}" \
    "(the kit's three packages, kfp, mlflow, kserve, scikit-learn and the test tools)"
  "${sync[@]}" --quiet
fi

# checkov pins libraries (boto3 among them) the kit must not share: it gets a virtualenv of its own.
if [[ ! -x .tools/checkov/bin/checkov ]]; then
  echo "setup: installing checkov (${CHECKOV_SPEC#checkov}) into .tools/checkov, for \`mlpatterns validate\`"
  .tools/bin/uv venv --quiet --python "$PYTHON" .tools/checkov
  .tools/bin/uv pip install --quiet --python .tools/checkov/bin/python "$CHECKOV_SPEC"
fi
# seldon-core pins protobuf against kfp and kserve, and 1.19 needs Python 3.12: its own virtualenv,
# on a Python 3.12+ from PATH or pyenv (the tests call a server with its SeldonClient).
seldon_python() {
  local candidate
  for candidate in "${SELDON_PYTHON:-}" python3.12 python3.13 "$(pyenv root 2>/dev/null)"/versions/3.1[23].*/bin/python3; do
    if [[ -n $candidate ]] && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      "$candidate" -c 'import sys; print(sys.executable)'
      return
    fi
  done
}
if [[ ! -x .tools/seldon/bin/python ]]; then
  python312=$(seldon_python)
  if [[ -n $python312 ]]; then
    echo "setup: installing seldon-core (${SELDON_SPEC#seldon-core}) into .tools/seldon on $python312, for the SeldonClient tests"
    .tools/bin/uv venv --quiet --python "$python312" .tools/seldon
    .tools/bin/uv pip install --quiet --python .tools/seldon/bin/python "$SELDON_SPEC"
  else
    echo "setup: no Python 3.12 or newer (SELDON_PYTHON=...): the SeldonClient tests will be skipped" >&2
  fi
fi
echo "setup: ready (.venv: $(.venv/bin/python --version))"
