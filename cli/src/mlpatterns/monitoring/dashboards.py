"""The four dashboards as Grafana JSON, built with Grafana's own SDK (grafana-foundation-sdk) from
the panel table in panels.py. `mlpatterns charts sync` writes them to manifests/monitoring/dashboards
and into the library chart; the tests regenerate them and diff."""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.builders import prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import DashboardCursorSync, DataSourceRef, VariableRefresh, VariableSort

from mlpatterns.monitoring.panels import DASHBOARDS, Dashboard, Panel

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
# Where each variable's values come from: the series every model server exports.
_VARIABLES = (
    ("namespace", "Namespace", "label_values(mlpatterns_requests_total, namespace)"),
    ("model", "Model", 'label_values(mlpatterns_requests_total{namespace=~"$namespace"}, model)'),
    (
        "version",
        "Version",
        'label_values(mlpatterns_requests_total{namespace=~"$namespace", model=~"$model"}, version)',
    ),
)
WIDTH = 12  # two panels a row
HEIGHT = 8


def _variables(board: builders.Dashboard) -> None:
    board.with_variable(builders.DatasourceVariable("datasource").label("Data source").type("prometheus"))
    for name, label, query in _VARIABLES:
        board.with_variable(
            builders.QueryVariable(name)
            .label(label)
            .datasource(DATASOURCE)
            .query(query)
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
        )


def _panel(panel: Panel) -> timeseries.Panel:
    built = (
        timeseries.Panel()
        .title(panel.title)
        .description(panel.question)
        .unit(panel.unit)
        .datasource(DATASOURCE)
        .span(WIDTH)
        .height(HEIGHT)
        .fill_opacity(25 if panel.stacked else 5)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
        )
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI))
    )
    if panel.stacked:
        built.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if panel.unit == "percentunit":
        built.min(0).max(1)
    for index, query in enumerate(panel.queries):
        built.with_target(prometheus.Dataquery().expr(query.expr).legend_format(query.legend).ref_id(chr(65 + index)))
    return built


def build(spec: Dashboard) -> dict[str, object]:
    board = (
        builders.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.summary)
        .tags(["mlpatterns"])
        .time("now-30m", "now")
        .refresh("10s")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .readonly()
    )
    _variables(board)
    for panel in spec.panels:
        board.with_panel(_panel(panel))
    document: dict[str, object] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return document


def rendered() -> dict[str, str]:
    """file name -> the dashboard's JSON, as committed."""
    return {spec.file: json.dumps(build(spec), indent=2, sort_keys=True) + "\n" for spec in DASHBOARDS}
