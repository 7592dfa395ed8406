"""Keep the generated parts of the charts in step with their sources: each pattern chart's
values.schema.json (from its module in schemas/), the values table of its README (from values.yaml), the
dashboards and alert rules (manifests/monitoring and the charts' copies, from mlpatterns/monitoring), and
the packaged library chart in its charts/ folder (so `helm install` works from a fresh clone)."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import helm_python as helm
import yaml

from mlpatterns.charts.install_docs import INSTALLS, with_install
from mlpatterns.charts.schemas import CHART_SCHEMAS
from mlpatterns.charts.schemas.core import Schema
from mlpatterns.charts.values_docs import with_table
from mlpatterns.monitoring import charts as observability
from mlpatterns.monitoring.generate import outputs as monitoring_outputs
from mlpatterns.paths import charts_dir

LIBRARY = "mlpatterns-lib"


def pattern_charts() -> list[Path]:
    """Every application chart under charts/ (the library chart is not installable)."""
    found = []
    for chart_yaml in sorted(charts_dir().glob("*/Chart.yaml")):
        if yaml.safe_load(chart_yaml.read_text()).get("type", "application") == "application":
            found.append(chart_yaml.parent)
    return found


def _comparable(files: dict[str, bytes]) -> dict[str, object]:
    # Helm rewrites Chart.yaml when it packages a chart: compare its meaning, not its bytes.
    return {name: yaml.safe_load(data) if name == "Chart.yaml" else data for name, data in files.items()}


def _library_files() -> dict[str, object]:
    library = charts_dir() / LIBRARY
    files = {p.relative_to(library).as_posix(): p.read_bytes() for p in sorted(library.rglob("*")) if p.is_file()}
    return _comparable(files)


def _packaged_library(chart: Path) -> dict[str, object] | None:
    archives = sorted((chart / "charts").glob(f"{LIBRARY}-*.tgz"))
    if len(archives) != 1:
        return None
    files = {}
    with tarfile.open(archives[0]) as archive:
        for member in archive.getmembers():
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is not None:
                files[member.name.removeprefix(f"{LIBRARY}/")] = handle.read()
    return _comparable(files)


def sync(check: bool = False) -> list[str]:
    """What is out of date; with check=False it is brought up to date as well."""
    drift: list[str] = []
    # First: the library chart holds generated dashboards and rules, and is packaged below.
    for path, content in monitoring_outputs().items():
        _write_if_changed(path, content, check, drift)
    library = _library_files()
    for chart in pattern_charts():
        if _packaged_library(chart) != library:
            drift.append(f"{chart.name}/charts/{LIBRARY}-*.tgz differs from charts/{LIBRARY}")
            if not check:
                for stale in (chart / "charts").glob(f"{LIBRARY}-*.tgz"):
                    stale.unlink()
                helm.dependency_update(chart)
        build = CHART_SCHEMAS.get(chart.name)
        if build is None:
            drift.append(f"{chart.name}: no schema module in mlpatterns/charts/schemas/")
        else:
            _write_if_changed(chart / "values.schema.json", json.dumps(_schema(chart.name, build), indent=2) + "\n",
                              check, drift)  # fmt: skip
        readme = chart / "README.md"
        current = readme.read_text() if readme.is_file() else f"# {chart.name}\n"
        wanted = with_table(current, (chart / "values.yaml").read_text())
        if chart.name in INSTALLS:
            wanted = with_install(wanted, chart.name)
        else:
            drift.append(f"{chart.name}: no install section in mlpatterns/charts/install_docs.py")
        _write_if_changed(readme, wanted, check, drift)
    return drift


def _schema(chart: str, build: Callable[[], Schema]) -> Schema:
    schema = build()
    if chart in observability.CHARTS:
        schema["properties"]["monitoring"]["properties"].update(observability.schema(chart))
    return schema


def _write_if_changed(path: Path, content: str, check: bool, drift: list[str]) -> None:
    if path.is_file() and path.read_text() == content:
        return
    drift.append(f"{path.parent.name}/{path.name} is not up to date")
    if not check:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
