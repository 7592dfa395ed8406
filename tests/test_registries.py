"""The lists several layers need come from one table each: the model formats (the server's
loading/formats.py) and the prediction-log sinks (predlog/sinks.py). The settings read them; the
charts' schemas, the ServingRuntimes (the charts' and the platform's) and the docs are checked
against them here, so adding a format or a sink in one place and forgetting another fails a test."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from mlpatterns.charts.rendering import render
from mlpatterns.charts.schemas import core, kserve
from mlpatterns.paths import REPOSITORY, charts_dir
from mlpatterns_server.loading.formats import FORMATS
from mlpatterns_server.predlog.sinks import SINKS
from mlpatterns_server.settings import ServerSettings

DOCS = (REPOSITORY / "docs" / "model-server.md").read_text()


def _declared(runtime: dict[str, Any]) -> dict[str, str]:
    return {entry["name"]: entry["version"] for entry in runtime["spec"]["supportedModelFormats"]}


def test_the_chart_schemas_offer_exactly_the_servers_formats() -> None:
    assert sorted(kserve.MODEL_FORMATS) == sorted(FORMATS)


def test_the_serving_runtimes_declare_exactly_the_servers_formats() -> None:
    wanted = {name: f.kserve_version for name, f in FORMATS.items()}
    charts_runtime = next(m.document for m in render(charts_dir() / "synchronous", {}) if m.kind == "ServingRuntime")
    assert _declared(charts_runtime) == wanted
    kubectl = shutil.which("kubectl") or str(REPOSITORY / ".venv/bin/kubectl")
    built = subprocess.run([kubectl, "kustomize", str(REPOSITORY / "manifests")], capture_output=True, text=True,
                           check=True).stdout  # fmt: skip
    (platform_runtime,) = [d for d in yaml.safe_load_all(built) if d and d["kind"] == "ClusterServingRuntime"]
    assert _declared(platform_runtime) == wanted


def test_the_docs_list_each_format_with_its_files() -> None:
    rows = {match[1]: match[0] for match in re.finditer(r"^\| [^|]*\(`(\w+)`\) \|.*$", DOCS, re.MULTILINE)}
    assert set(rows) == set(FORMATS)
    for name, model_format in FORMATS.items():
        assert all(f"`*{suffix}`" in rows[name] for suffix in model_format.suffixes), rows[name]


def test_the_chart_schemas_and_the_docs_offer_exactly_the_sinks() -> None:
    sink_enum = core.server()["properties"]["predictionLog"]["properties"]["sink"]["enum"]
    assert sorted(sink_enum) == sorted(["none", *SINKS])
    table = DOCS.split("| sink | where the event goes | settings |", 1)[1].split("\n\n", 1)[0]
    assert sorted(re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)) == sorted(SINKS)


@pytest.mark.parametrize(
    ("field", "value", "names"),
    [("model_format", "pytorch", list(FORMATS)), ("prediction_log_sink", "kafka", list(SINKS))],
)
def test_the_settings_refuse_what_the_tables_do_not_hold(field: str, value: str, names: list[str]) -> None:
    with pytest.raises(ValueError, match=", ".join(names)):
        ServerSettings.model_validate({"model_dir": "m", field: value})
