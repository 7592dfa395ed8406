"""`make demo`, the README's main command: it runs to the end, and the server command it prints can
be pasted into a shell at the repository's root."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from mlpatterns.paths import REPOSITORY


def test_the_demo_runs_and_prints_a_command_that_can_be_pasted() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/demo.py"], cwd=REPOSITORY, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "COLUMNS": "80"},  # a narrow screen must not break the printed command
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("$ ")]
    command = shlex.split(line.removeprefix("$ "))
    assert command[0] == ".venv/bin/mlpatterns-server"
    assert (REPOSITORY / command[0]).is_file()
    assert (REPOSITORY / command[command.index("--model_dir") + 1] / "model.joblib").is_file()
    assert "prediction log: the Redis Stream mlpatterns:predictions" in done.stdout
