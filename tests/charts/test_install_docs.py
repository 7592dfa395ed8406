"""What each chart's README and NOTES.txt tell a user before a real cluster holds: the install
values the README shows render and validate, the unpublished default image is said plainly
until one's own is set, and `make images` builds the images the charts name."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import helm_python as helm
import pytest

from mlpatterns.charts.install_docs import INSTALLS, install_sets
from mlpatterns.charts.rendering import render, user_values
from mlpatterns.paths import REPOSITORY
from mlpatterns.validation.manifests import validate_documents
from tests.charts.scenarios import CHARTS

# Images the charts run that their upstream publishes (the release's own Redis).
PUBLISHED_ELSEWHERE = ("docker.io/library/redis:",)


def test_every_chart_has_install_docs() -> None:
    assert {chart.name for chart in CHARTS} == set(INSTALLS)


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_the_readme_install_values_render_and_validate(chart: Path) -> None:
    manifests = render(chart, user_values(sets=install_sets(chart.name)))
    assert validate_documents([(m.template, m.document) for m in manifests]) == []
    images = {c["image"] for m in manifests for c in _containers(m.document) if not m.is_test_hook}
    ours = {image for image in images if not image.startswith(PUBLISHED_ELSEWHERE)}
    assert ours == {f"registry.example.com/ml/{INSTALLS[chart.name].image}:0.1.0"}
    readme = (chart / "README.md").read_text()
    assert f"helm install iris charts/{chart.name} " in readme
    assert ("kubectl apply -k manifests/" in readme) == INSTALLS[chart.name].kserve


def _containers(document: dict[str, object]) -> list[dict[str, str]]:
    """The containers anywhere in an object (pod templates, InferenceService components)."""
    found: list[dict[str, str]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                found += [c for c in value if isinstance(c, dict) and "image" in c]
            else:
                found += _containers(value)  # type: ignore[arg-type]
    elif isinstance(document, list):
        for item in document:
            found += _containers(item)
    return found


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_notes_say_the_default_image_is_not_published(chart: Path) -> None:
    with helm.Config(namespace="mlpatterns") as config:
        default = config.install(str(chart), "iris", dry_run="client")["notes"]
        own = config.install(str(chart), "iris", user_values(sets=install_sets(chart.name)), dry_run="client")["notes"]
    assert default.startswith(f"NOTE: the image ghcr.io/mlpatterns/{INSTALLS[chart.name].image} is not published")
    assert f"--set image.repository=<your registry>/{INSTALLS[chart.name].image}" in default
    assert "not published" not in own


def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", *args], cwd=REPOSITORY, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_make_images_builds_what_the_charts_name() -> None:
    done = _make("images", "REGISTRY=registry.example.com/ml", "TAG=0.1.0", "MODEL_PATH=models/iris",
                 env={"IMAGES_DRY_RUN": "1"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "docker build -f model-server/Dockerfile -t registry.example.com/ml/model-server:0.1.0 .",
        "docker build -f pipelines/Dockerfile -t registry.example.com/ml/training-python:0.1.0 .",
        "docker build -f model-server/Dockerfile --build-arg MODEL_PATH=models/iris "
        "-t registry.example.com/ml/iris-server:0.1.0 .",
    ]
    assert {install.image for install in INSTALLS.values()} == {"model-server", "training-python", "iris-server"}


def test_make_images_without_docker_says_what_is_missing() -> None:
    done = subprocess.run(["/bin/bash", "scripts/images.sh", "build", "r", "1"], cwd=REPOSITORY, capture_output=True,
                          text=True, env={"PATH": "/nonexistent"}, check=False)  # fmt: skip
    assert done.returncode == 1
    assert "docker is not installed; build the images on a machine with Docker" in done.stderr
