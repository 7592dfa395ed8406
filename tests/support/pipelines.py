"""Running `mlpatterns-pipelines` as a user does, and reading what it registered."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

# run-local prints one line per step: "✓ ingest       succeeded 1.0s".
_STEP = re.compile(r"^[✓✗] (?P<name>[\w-]+) +(?P<status>succeeded|failed) +[0-9.]+s$", re.MULTILINE)


def run_command(
    *args: str, cwd: Path, params: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The command run in `cwd`, with the kit's local state (MLPATTERNS_HOME) in cwd/.mlpatterns."""
    command = [sys.executable, "-m", "mlpatterns_pipelines", *args]
    for key, value in (params or {}).items():
        command += ["--param", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    environment = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    environment |= {"MLPATTERNS_HOME": str(cwd / ".mlpatterns"), **(env or {})}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False, env=environment)


def executed_tasks(output: str) -> list[str]:
    """The steps a run-local run reported, in order."""
    return [match["name"] for match in _STEP.finditer(output)]


def versions(client: MlflowClient, name: str) -> dict[str, list[str]]:
    """Each registered version of `name` and its aliases."""
    found = client.search_model_versions(f"name = '{name}'")
    # search results leave aliases out; each version's own record has them.
    return {str(v.version): sorted(client.get_model_version(name, v.version).aliases) for v in found}
