"""A newcomer's path, walked as the docs write it, on a fresh copy of the repository with nothing
beside it (no ../shared): `make setup`, train with the pipeline, serve the champion with the
README's command and ask it, render and validate the chart; then `make setup` again (no install
work), the README's shadow test of a second, different model, every chart validated, and the docs'
local blocks that build on that champion (model-in-image's export, preprocess-prediction's two
processes, the prediction cache's server alone).

The blocks run through bash exactly as written, with the substitutions a shared machine needs:
the servers' ports 8080 (the default, also through MLPATTERNS_HTTP_PORT) and 8081 become free
ports (`mlpatterns up` and `down` get --port), and MLPATTERNS_HOME is a folder of the test's
instead of ~/.mlpatterns."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlpatterns.charts.sync import pattern_charts
from mlpatterns.paths import REPOSITORY
from tests.support.processes import free_port


def fresh_copy(target: Path) -> Path:
    """The repository's files as a clone would have them (tracked and new, not ignored), so no
    .venv, .tools or local state comes along."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPOSITORY, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = REPOSITORY / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def block(page: Path, name: str) -> str:
    """The fenced commands between <!-- NAME:start --> and <!-- NAME:end --> in a docs page."""
    text = page.read_text()
    found = re.search(rf"<!-- {name}:start -->\n```\n(.*?)```\n<!-- {name}:end -->", text, re.DOTALL)
    assert found, f"{page.name} has no '{name}' block"
    return found[1]


@dataclass
class Walk:
    checkout: Path
    home: Path
    env: dict[str, str]
    ports: dict[str, str]

    def run(self, commands: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        for default, port in self.ports.items():
            commands = re.sub(rf"(localhost:|--http_port |--port ){default}\b", rf"\g<1>{port}", commands)
        commands = re.sub(r"(mlpatterns (?:up|down))\b", rf"\1 --port {self.ports['8080']}", commands)
        # Whatever a block starts in the background stops with it, even when a command fails.
        script = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + commands
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=self.checkout, env=self.env, capture_output=True,
            text=True, timeout=timeout, check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Walk:
    root = tmp_path_factory.mktemp("newcomer")
    checkout = fresh_copy(root / "mlpatterns")
    home = root / "home"
    unset = ("MLFLOW_TRACKING_URI", "MLPATTERNS_CRDS_DIR", "VIRTUAL_ENV", "MLPATTERNS_HOME")
    env = {key: value for key, value in os.environ.items() if key not in unset}
    ports = {"8080": str(free_port()), "8081": str(free_port()), "6379": str(free_port())}
    env |= {"MLPATTERNS_HOME": str(home), "MLPATTERNS_HTTP_PORT": ports["8080"]}
    return Walk(checkout, home, env, ports)


@pytest.fixture(scope="module")
def readme_path(walk: Walk) -> subprocess.CompletedProcess[str]:
    return walk.run(block(walk.checkout / "README.md", "newcomer-path"))


def test_the_readme_path_trains_serves_and_validates(readme_path: subprocess.CompletedProcess[str], walk: Walk) -> None:
    output = readme_path.stdout
    assert readme_path.returncode == 0, output[-4000:] + readme_path.stderr[-4000:]
    assert "batch-training succeeded" in output
    assert "'iris' version 1 registered; first model: no champion yet (champion: v1)" in output
    assert '{"predictions":[0]}' in output, "the champion answered the README's curl"
    assert "--model_uri=models:/iris@champion" in output, "render printed the InferenceService"
    assert re.search(r"✓ \d+ objects, 0 problems", output), "validate passed with the schemas the CLI ships"
    assert not (walk.checkout.parent / "shared").exists()
    assert (walk.home / "mlflow.db").is_file()
    assert list(walk.checkout.rglob("mlflow.db")) == [], "nothing leaves a store in the working directory"
    assert not (walk.checkout / "mlruns").exists()


def test_a_second_make_setup_does_no_install_work(readme_path: subprocess.CompletedProcess[str], walk: Walk) -> None:
    assert "setup: syncing .venv with uv.lock" in readme_path.stdout, "the first run built the environment"
    environment = walk.checkout / ".venv" / "pyvenv.cfg"
    built = environment.stat().st_mtime_ns
    done = walk.run("make setup")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"setup: \.venv is up to date \(\d+ locked packages\)", done.stdout), done.stdout
    assert "syncing" not in done.stdout
    assert "installing" not in done.stdout
    assert environment.stat().st_mtime_ns == built, "the second run recreated .venv"


def test_the_readme_shadow_test_compares_two_different_models(
    readme_path: subprocess.CompletedProcess[str], walk: Walk
) -> None:
    done = walk.run(block(walk.checkout / "README.md", "shadow-ab-local"))
    output = done.stdout
    assert done.returncode == 0, output[-5000:] + done.stderr[-3000:]
    assert re.search(r"'iris' version 2 registered; challenger .* less than the margin 1\S*, so the champion stays "
                     r"\(champion: v1\)", output), output  # fmt: skip
    assert "mlpatterns up: ready, in the background" in output
    assert '{"predictions":[0]}' in output
    assert re.search(r"answered by primary .*version 1\)", output), output
    rows = {line.split("│")[3].strip(): line.split("│")[2].strip() for line in output.splitlines()
            if line.count("│") >= 8 and line.split("│")[1].strip() == "iris"}  # fmt: skip
    assert rows == {"primary": "1", "shadow": "2"}, output
    assert re.search(r"shadow agreement of iris: \d+\.\d%", output), output
    assert "stopped shadow-ab" in output


def test_every_chart_validates_on_the_fresh_copy(readme_path: subprocess.CompletedProcess[str], walk: Walk) -> None:
    charts = sorted(p.parent.name for p in (walk.checkout / "charts").glob("*/values.yaml"))
    loop = " && ".join(f".venv/bin/mlpatterns validate {chart} --no-checkov" for chart in charts)
    done = walk.run(loop)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" 0 problems") == len(charts) == len(pattern_charts())


def test_the_model_in_image_export_serves_the_champion(
    readme_path: subprocess.CompletedProcess[str], walk: Walk
) -> None:
    done = walk.run(block(walk.checkout / "docs" / "model-in-image.md", "export-champion"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (walk.checkout / "models" / "iris" / "MLmodel").is_file()
    assert '{"predictions":[1]}' in done.stdout


def test_the_preprocess_prediction_local_run(readme_path: subprocess.CompletedProcess[str], walk: Walk) -> None:
    done = walk.run(block(walk.checkout / "docs" / "preprocess-prediction.md", "preprocess-prediction-local"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert '{"predictions":[0]}' in done.stdout


def test_the_prediction_cache_server_alone(readme_path: subprocess.CompletedProcess[str], walk: Walk) -> None:
    done = walk.run(block(walk.checkout / "docs" / "prediction-cache.md", "prediction-cache-local"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count('{"predictions":[0]}') == 2
    assert 'mlpatterns_cache_requests_total{model="iris",result="hit"} 1.0' in done.stdout
    assert 'mlpatterns_cache_requests_total{model="iris",result="miss"} 1.0' in done.stdout
