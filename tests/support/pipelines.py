"""Running `mlpatterns-pipelines` as a user does, and reading what it registered."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

_TASK = re.compile(r"Executing task \S*'(?P<name>[\w-]+)'")


def run_command(*args: str, cwd: Path, params: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mlpatterns_pipelines", *args]
    for key, value in (params or {}).items():
        command += ["--param", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def executed_tasks(output: str) -> list[str]:
    """The tasks a kfp.local run started, in order."""
    return [match["name"] for match in _TASK.finditer(re.sub(r"\x1b\[[0-9;]*m", "", output))]


def versions(client: MlflowClient, name: str) -> dict[str, list[str]]:
    """Each registered version of `name` and its aliases."""
    found = client.search_model_versions(f"name = '{name}'")
    # search results leave aliases out; each version's own record has them.
    return {str(v.version): sorted(client.get_model_version(name, v.version).aliases) for v in found}
