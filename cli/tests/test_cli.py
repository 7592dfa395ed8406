"""The `mlpatterns` command, run as a user runs it: a real process, its output and exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from mlpatterns.paths import REPOSITORY


def mlpatterns(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlpatterns", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_patterns_lists_every_pattern_and_which_have_charts() -> None:
    done = mlpatterns("patterns")
    assert done.returncode == 0
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if line.count("│") >= 4}
    assert len([name for name in rows if name]) >= 16
    assert "yes" in rows["web-single"]
    assert "yes" in rows["microservice-vertical"]
    assert "—" in rows["pipeline-training"]
    # each landed pattern links its docs page, whole, even when the output is piped
    for name, line in rows.items():
        if name:
            assert (f"docs/{name}.md" in line) == (REPOSITORY / "docs" / f"{name}.md").is_file(), line


def test_render_prints_the_manifests_with_values_and_sets(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("model:\n  name: churn\n")
    done = mlpatterns("render", "web-single", "-f", str(values), "--set", "autoscaling.enabled=false,replicas=2")
    assert done.returncode == 0, done.stderr
    documents = [d for d in yaml.safe_load_all(done.stdout) if d]
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert "--model_name=churn" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "# Source: web-single/templates/deployment.yaml" in done.stdout


def test_several_sets_of_one_list_item_make_one_item_as_in_helm() -> None:
    done = mlpatterns(
        "render", "web-single", "--set", "server.env[0].name=MLFLOW_TRACKING_URI",
        "--set", "server.env[0].value=http://mlflow:5000", "--set", "model.uri=models:/iris@champion",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    deployment = next(d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] == "Deployment")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "MLFLOW_TRACKING_URI", "value": "http://mlflow:5000"}]


def test_render_refuses_bad_values_with_helms_reason() -> None:
    done = mlpatterns("render", "synchronous", "--set", "deploymentMode=Serverful")
    assert done.returncode == 2
    assert "at 'deploymentMode'" in done.stderr
    assert "Traceback" not in done.stderr


def test_render_of_an_unknown_pattern() -> None:
    done = mlpatterns("render", "nonesuch")
    assert done.returncode == 2
    assert "no pattern or chart 'nonesuch'; `mlpatterns patterns` lists them" in done.stderr


def test_render_of_the_pattern_without_a_chart_points_at_its_pipeline() -> None:
    training = mlpatterns("validate", "pipeline-training")
    assert training.returncode == 2
    assert "pipeline-training runs on Kubeflow Pipelines, not from a chart: see docs/pipeline-training.md" in (
        training.stderr
    )


def test_validate_a_chart() -> None:
    done = mlpatterns("validate", "model-load", "-f", "charts/model-load/ci/01-minio-values.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 problems" in done.stdout


def test_validate_a_folder_names_object_path_and_reason(tmp_path: Path) -> None:
    container = {"name": "c", "image": "i", "imagePullPolicy": "Always"}
    (tmp_path / "app.yaml").write_text(
        yaml.safe_dump_all([
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": "two", "selector": {"matchLabels": {"a": "b"}},
                      "template": {"metadata": {"labels": {"a": "b"}},
                                   "spec": {"containers": [container]}}}},
            {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "iris"},
             "spec": {"predictor": {"minReplicas": 1, "modle": {"storageUri": "s3://m"}}}},
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
        ])
    )  # fmt: skip
    done = mlpatterns("validate", str(tmp_path), "--no-checkov")
    assert done.returncode == 1
    out = done.stdout
    assert "Deployment/web: spec.replicas: 'two' is not of type 'integer'" in out
    assert (
        "InferenceService/iris: spec.predictor: Additional properties are not allowed ('modle' was unexpected)" in out
    )
    assert "Widget/w: (top): no CRD schema for example.com/v1 Widget" in out
    assert "3 objects, 3 problems" in out


def test_validate_runs_checkov_on_a_folder(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ml"},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    )  # fmt: skip
    done = mlpatterns("validate", str(tmp_path))
    assert done.returncode == 1
    assert "CKV_K8S_" in done.stdout


def test_charts_sync_check_passes_on_the_checkout() -> None:
    done = mlpatterns("charts", "sync", "--check")
    assert done.returncode == 0, done.stdout
