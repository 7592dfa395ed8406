"""Every chart, with its defaults and each ci/ scenario, lints strictly with Helm's Go SDK,
renders, validates strictly against the Kubernetes 1.30 and upstream CRD schemas, passes checkov,
and installs from a fresh checkout. The checks are the ones `mlpatterns validate` runs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest

from mlpatterns.charts.rendering import lint, render
from mlpatterns.charts.sync import sync
from mlpatterns.validation.checkov import scan
from mlpatterns.validation.manifests import validate_documents
from tests.charts.scenarios import CHARTS, PAIRS, SCENARIOS, rendered, scenario_files, scenario_id, values_of


def test_there_are_charts_to_check() -> None:
    assert {chart.name for chart in CHARTS} >= {
        "web-single", "synchronous", "preprocess-prediction", "model-load", "model-in-image", "batch-training"
    }  # fmt: skip


@pytest.mark.parametrize(("chart", "values_file"), SCENARIOS)
def test_lints_strictly(chart: Path, values_file: Path | None) -> None:
    assert lint(chart, values_of(values_file)) == []


@pytest.mark.parametrize(("chart", "values_file"), SCENARIOS)
def test_every_object_validates_strictly(chart: Path, values_file: Path | None) -> None:
    manifests = rendered(chart, values_file)
    assert manifests
    problems = validate_documents([(m.template, m.document) for m in manifests])
    assert [str(problem) for problem in problems] == []


def test_checkov_finds_nothing_in_any_scenario() -> None:
    documents = [
        (f"{scenario_id(chart, values_file)}:{m.template}", m.document)
        for chart, values_file in PAIRS
        for m in rendered(chart, values_file)
    ]
    problems, skipped = scan(documents)
    assert [str(problem) for problem in problems] == []
    assert skipped > 0, "the skips written in the charts are seen"


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_every_ci_scenario_says_what_it_is_for(chart: Path) -> None:
    files = [f for f in scenario_files(chart) if f]
    assert files, f"{chart.name} has no ci/*-values.yaml scenarios"
    for path in files:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# "), f"{path.name}: the first line should say its purpose"
        assert len(first) > 20, f"{path.name}: the first line should say its purpose"


def test_generated_files_are_up_to_date() -> None:
    assert sync(check=True) == [], "run `mlpatterns charts sync` and commit the result"


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_helm_install_works_from_the_checkout(chart: Path) -> None:
    # `helm install demo charts/<pattern>`, short of the cluster: it needs the packaged library.
    with helm.Config(namespace="mlpatterns") as config:
        release = config.install(str(chart), "demo", dry_run="client")
    assert release["status"] == "pending-install"
    assert "kind:" in release["manifest"]


def test_install_fails_without_the_packaged_library(tmp_path: Path) -> None:
    copy = shutil.copytree(CHARTS[0], tmp_path / CHARTS[0].name, ignore=shutil.ignore_patterns("charts"))
    with helm.Config(namespace="mlpatterns") as config, pytest.raises(helm.HelmError, match="mlpatterns-lib"):
        config.install(str(copy), "demo", dry_run="client")


def _containers(document: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(where, pod-level spec, container) for every container an object runs or templates."""
    kind, spec = document["kind"], document.get("spec", {})
    if kind == "Deployment":
        pod = spec["template"]["spec"]
        return [(f"Deployment {c['name']}", pod, c) for c in pod["containers"]]
    if kind == "CronJob":
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        return [(f"CronJob {c['name']}", pod, c) for c in pod["containers"]]
    if kind == "Pod":
        return [(f"Pod {c['name']}", spec, c) for c in spec["containers"]]
    if kind == "InferenceService":
        found = []
        for component in ("predictor", "transformer"):
            part = spec.get(component)
            if part:
                found += [(f"{component} {c['name']}", part, c) for c in part.get("containers", [])]
                if "model" in part:
                    found.append((f"{component} model", part, part["model"]))
        return found
    if kind in ("ServingRuntime", "ClusterServingRuntime"):
        return [(f"{kind} {c['name']}", {}, c) for c in spec["containers"]]
    return []


@pytest.mark.parametrize(("chart", "values_file"), SCENARIOS)
def test_every_container_runs_restricted_with_resources(chart: Path, values_file: Path | None) -> None:
    containers = [c for m in rendered(chart, values_file) for c in _containers(m.document)]
    assert containers
    for where, pod, container in containers:
        context = container.get("securityContext", {})
        pod_context = pod.get("securityContext", {})
        assert context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True, where
        assert context.get("readOnlyRootFilesystem") is True, where
        assert context.get("allowPrivilegeEscalation") is False, where
        assert context.get("capabilities", {}).get("drop") == ["ALL"], where
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
        assert seccomp.get("type") == "RuntimeDefault", where
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= container.get("resources", {}).get(bound, {}).keys(), f"{where} {bound}"


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_names_fit_in_63_characters(chart: Path) -> None:
    release = "a-release-name-as-long-as-helm-allows-them-to-be-ok"
    for manifest in render(chart, {}, release=release):
        assert len(manifest.name) <= 63, manifest.label
        for key, value in manifest.document["metadata"].get("labels", {}).items():
            assert len(str(value)) <= 63, f"{manifest.label} label {key}"


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_selectors_hold_only_stable_labels(chart: Path) -> None:
    for manifest in rendered(chart, None):
        selector = manifest.document.get("spec", {}).get("selector", {})
        labels = selector.get("matchLabels", selector if manifest.kind == "Service" else {})
        assert not {"helm.sh/chart", "app.kubernetes.io/version"} & set(labels), manifest.label
