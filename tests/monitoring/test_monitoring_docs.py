"""docs/observability.md covers the tables it documents: every dashboard and panel, and a section
for every alert at the anchor its runbook annotation names."""

from __future__ import annotations

import re

from mlpatterns.monitoring.alerts import ALERTS, rule_file
from mlpatterns.monitoring.panels import DASHBOARDS
from mlpatterns.paths import REPOSITORY

PAGE = (REPOSITORY / "docs" / "observability.md").read_text()
ANCHORS = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", PAGE, re.M)}


def test_every_dashboard_and_panel_is_described() -> None:
    for dashboard in DASHBOARDS:
        assert f"(`{dashboard.file}`)" in PAGE, dashboard.file
        for panel in dashboard.panels:
            assert f"| {panel.title} |" in PAGE, panel.title


def test_every_alert_has_the_section_its_runbook_names() -> None:
    runbooks = {
        rule["alert"]: rule["annotations"]["runbook"] for group in rule_file()["groups"] for rule in group["rules"]
    }
    assert set(runbooks) == {alert.name for alert in ALERTS}
    for name, runbook in runbooks.items():
        page, anchor = runbook.split("#")
        assert page == "docs/observability.md"
        assert anchor in ANCHORS, f"{name}: no section #{anchor}"


def test_every_metric_the_panels_and_alerts_read_is_a_documented_one() -> None:
    """A query over a name nobody exports returns nothing, silently: each name is in the docs."""
    docs = "".join(page.read_text() for page in (REPOSITORY / "docs").glob("*.md"))
    exprs = [q.expr for d in DASHBOARDS for p in d.panels for q in p.queries]
    exprs += [rule["expr"] for group in rule_file()["groups"] for rule in group["rules"]]
    used = {re.sub(r"_(bucket|sum|count)$", "", name) for e in exprs for name in re.findall(r"mlpatterns_\w+", e)}
    assert used, "no metric names found"
    assert {name for name in used if f"`{name}" not in docs} == set()
