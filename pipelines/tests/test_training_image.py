"""The training image's Python environment, built as pipelines/Dockerfile builds it, runs the
pipelines and holds nothing of serving."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_training_environment_has_the_pipelines_and_no_serving_code(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        ["scripts/install-locked.sh", "mlpatterns-pipelines", "pipelines", str(venv),
         getattr(sys, "_base_executable", sys.executable)],
        cwd=ROOT, check=True, env={**os.environ, "UV": str(ROOT / ".tools/bin/uv")},
    )  # fmt: skip
    site = next((venv / "lib").glob("python*/site-packages"))
    installed = {dist.metadata["Name"].lower() for dist in distributions(path=[str(site)])}
    assert {"mlpatterns-pipelines", "kfp", "kfp-kubernetes", "mlflow", "xgboost-cpu"} <= installed
    assert not installed & {"mlpatterns-server", "kserve", "mlpatterns", "pytest", "moto"}
    compiled = subprocess.run(
        [str(venv / "bin/mlpatterns-pipelines"), "compile", "--check", "--output-dir", "pipelines/compiled"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
