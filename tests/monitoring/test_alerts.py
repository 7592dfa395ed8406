"""The alerts, tested by promtool (Prometheus' own rule tester) on planted series: the committed rule
file in manifests/monitoring, and the PrometheusRules the charts render, which must behave the same
in the release's namespace and take the thresholds their values set."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlpatterns.charts.rendering import render
from mlpatterns.monitoring.alerts import ALERTS, GROUPS
from mlpatterns.monitoring.charts import CHARTS
from mlpatterns.paths import REPOSITORY, charts_dir

TESTS = Path(__file__).parent / "alerts-test.yaml"
RULES = REPOSITORY / "manifests" / "monitoring" / "rules" / "mlpatterns.yaml"
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (`make setup` installs it)")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False)


def _rule(chart: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    enabled = {"monitoring": {"rules": {"enabled": True, **(values or {})}}}
    (rule,) = [m.document for m in render(charts_dir() / chart, enabled) if m.document["kind"] == "PrometheusRule"]
    return rule


def test_the_rule_file_is_valid_and_has_every_alert() -> None:
    checked = _promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    groups = yaml.safe_load(RULES.read_text())["groups"]
    assert [group["name"] for group in groups] == [f"mlpatterns-{name}" for name in GROUPS]
    assert sorted(rule["alert"] for group in groups for rule in group["rules"]) == sorted(a.name for a in ALERTS)


def test_every_alert_fires_when_its_condition_holds_and_not_otherwise() -> None:
    tested = {test["alertname"] for case in yaml.safe_load(TESTS.read_text())["tests"]
              for test in case["alert_rule_test"]}  # fmt: skip
    assert tested == {alert.name for alert in ALERTS}, "every alert needs a promtool test"
    done = _promtool("test", "rules", str(TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_charts_rules_behave_as_the_rule_file_in_their_namespace(tmp_path: Path) -> None:
    """Every group as the charts render it (each once), under the same promtool tests."""
    files, seen = [], set()
    for chart, observed in CHARTS.items():
        fresh = [name for name in observed.groups if name not in seen]
        if not fresh:
            continue
        seen.update(fresh)
        groups = [g for g in _rule(chart)["spec"]["groups"] if g["name"].removeprefix("mlpatterns-") in fresh]
        path = tmp_path / f"{chart}.yaml"
        path.write_text(yaml.safe_dump({"groups": groups}))
        files.append(str(path))
    assert seen == set(GROUPS)
    tests = yaml.safe_load(TESTS.read_text())
    tests["rule_files"] = files
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    done = _promtool("test", "rules", str(tmp_path / "tests.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_charts_rules_see_only_its_namespace_and_take_its_thresholds() -> None:
    rule = _rule("shadow-ab", {"shadowMaxDisagreement": 0.2, "latencyP99Seconds": 2})
    exprs = {r["alert"]: r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]}
    assert set(exprs) == {
        "MlpatternsLatencyP99High",
        "MlpatternsShadowDisagreementHigh",
        "MlpatternsPredictionLogDropping",
        "MlpatternsDeadLetters",
    }
    assert exprs["MlpatternsShadowDisagreementHigh"].endswith("> 0.2")
    assert exprs["MlpatternsLatencyP99High"].endswith("> 2")
    for expr in exprs.values():
        selectors = expr.count("{")
        assert expr.count('namespace="mlpatterns"') == selectors, expr
    online = _rule("online-ab", {"variantErrorMargin": 0.05})
    (variant,) = [r for g in online["spec"]["groups"] for r in g["rules"] if r["alert"].startswith("MlpatternsVariant")]
    assert 'role="primary"' in variant["expr"]
    assert variant["expr"].endswith("+ 0.05)")


def test_a_threshold_the_chart_does_not_use_is_refused() -> None:
    from mlpatterns.charts.rendering import ChartError

    with pytest.raises(ChartError, match="cacheMaxErrorRatio"):
        _rule("shadow-ab", {"cacheMaxErrorRatio": 0.1})


def test_the_online_ab_rules_hold_variants_against_the_first_variant() -> None:
    variants = [
        {"name": "blue", "weight": 80, "model": {"uri": "s3://m/blue", "version": "1", "format": "sklearn"}},
        {"name": "green", "weight": 20, "model": {"uri": "s3://m/green", "version": "2", "format": "sklearn"}},
    ]
    enabled = {"variants": variants, "monitoring": {"rules": {"enabled": True}}}
    (rule,) = [
        m.document for m in render(charts_dir() / "online-ab", enabled) if m.document["kind"] == "PrometheusRule"
    ]
    (variant,) = [
        r["expr"] for g in rule["spec"]["groups"] for r in g["rules"] if r["alert"].startswith("MlpatternsVariant")
    ]
    assert 'role="blue"' in variant
    assert 'role!~"blue|shadow"' in variant
    assert "primary" not in variant
