"""The dashboards and alerts show the truth: patterns run under `mlpatterns up` with a real
Prometheus scraping every process, traffic with a planted split, agreement, error ratio, slowness
and cache hit ratio is sent with `mlpatterns load`, and every panel query and alert expression is
evaluated through Prometheus' HTTP API: valid, with data where the pattern feeds it, and equal to
what was planted. Grafana itself cannot run here; it sends these same queries.

Each figure is read over the window of the measured traffic only, after warm-up traffic has created
every series (a counter's first sample counts no increase, so a series born mid-window would
under-count). Rates over one window in numerator and denominator make a ratio of counts."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier
from sklearn.neighbors import KNeighborsClassifier

from mlpatterns.monitoring import alerts
from mlpatterns.monitoring.panels import DASHBOARDS, Panel, substitute
from mlpatterns.observe.direct import read
from mlpatterns.observe.figure import panels_of
from mlpatterns.observe.prometheus_api import query
from mlpatterns.paths import REPOSITORY
from tests.support.local_up import Up
from tests.support.planted_models import FAIL, SLOW, PlantedClassifier

pytestmark = pytest.mark.skipif(not Path("/usr/bin/prometheus").exists(), reason="Prometheus is not installed")
FEATURES, LABELS = load_iris(return_X_y=True)
SETOSA = [list(map(float, row)) for row, label in zip(FEATURES, LABELS, strict=True) if label == 0]
OTHERS = [list(map(float, row)) for row, label in zip(FEATURES, LABELS, strict=True) if label != 0]
ALERT = {alert.name: alert for alert in alerts.ALERTS}
RULES = {name: alert.expr(alerts.defaults(alert)) for name, alert in ALERT.items()}
PANELS = [panel for dashboard in DASHBOARDS for panel in dashboard.panels]
Labels = tuple[tuple[str, str], ...]  # a series' labels, sorted


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    folder = tmp_path_factory.mktemp("planted-models")
    knn = KNeighborsClassifier(n_neighbors=1).fit(FEATURES, LABELS)  # a training row gets its own label
    setosa = DummyClassifier(strategy="constant", constant=0).fit(FEATURES, LABELS)
    for name, model in (("knn", knn), ("setosa", setosa), ("planted", PlantedClassifier(knn))):
        (folder / name).mkdir()
        joblib.dump(model, folder / name / "model.joblib")
    # The servers unpickle the planted model: they must import tests.support.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])))
        yield {name: folder / name for name in ("knn", "setosa", "planted")} | {"folder": folder}


def run(home: Path, chart: str, *sets: str) -> Up:
    # rate() extrapolates each target's increase by window / its sampled span: quick scrapes keep
    # that within a few percent over a window of seconds.
    return Up(home, chart, *sets, extra=("--scrape-interval", "0.25"))


def rows_file(folder: Path, name: str, rows: list[list[float]]) -> Path:
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def load(up: Up, data: Path, rps: int, seconds: int, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "mlpatterns", "load", up.state["chart"], "--rps", str(rps), "--duration", str(seconds),
         "--data", str(data), "--json", *extra],
        capture_output=True, text=True, timeout=120, env=up.env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{") :])
    return summary


def cli(up: Up, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mlpatterns", *args], capture_output=True, text=True, timeout=120,
                          env={**up.env, "COLUMNS": "160"}, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def predict(url: str, row: list[float], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/v1/models/iris:predict", json={"instances": [row]}, headers=headers, timeout=30)


class Measured:
    """Prometheus at the end of a measured stretch of traffic, read over that stretch only."""

    def __init__(self, up: Up, started: float) -> None:
        self.url = str(up.state["prometheus"])
        time.sleep(1.5)  # more scrapes: the last answers are in
        self.at = time.time()
        self.window = f"{math.ceil(self.at - started)}s"

    def instant(self, expr: str) -> list[dict[str, Any]]:
        return query(self.url, expr, self.at)

    def panel(self, panel: Panel, index: int = 0) -> dict[Labels, float]:
        expr = substitute(panel.queries[index].expr, namespace="mlpatterns", model="iris", window=self.window)
        return {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in self.instant(expr)}

    def every_panel(self, fed: set[str]) -> None:
        """Every query of every dashboard is valid PromQL; those of the panels this pattern feeds have data."""
        for panel in PANELS:
            for index, _ in enumerate(panel.queries):
                result = self.panel(panel, index)  # raises on invalid PromQL
                if panel.needs in fed:
                    assert result, f"{panel.title} (query {index}) returned nothing"

    def firing(self) -> set[str]:
        """The alerts whose expression holds now (with the default thresholds)."""
        return {name for name, expr in RULES.items() if self.instant(expr)}

    def fires(self, planted: set[str]) -> None:
        """The planted alerts fire, and no other, unless what the machine did explains it: on a busy
        machine the tail latency can pass 0.5 s, and cache lookups time out (the cache fails open)."""
        firing = self.firing()
        assert planted <= firing, firing
        explained = set()
        for name, near in (("MlpatternsLatencyP99High", "0.4"), ("MlpatternsCacheErrors", "0.03")):
            if self.instant(ALERT[name].expr(alerts.Blanks("", near, "primary"))):
                explained.add(name)
        assert firing - planted <= explained, (firing, planted)


def wait_for(measure: str, url: str, expected: float, seconds: float = 40) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = query(url, measure)
        if found and float(found[0]["value"][1]) >= expected:
            return
        time.sleep(0.5)
    raise AssertionError(f"{measure} did not reach {expected}: {found}")


def by(result: dict[Labels, float], label: str) -> dict[str, float]:
    return {dict(key)[label]: number for key, number in result.items()}


def panel(title: str) -> Panel:
    return next(p for p in PANELS if p.title == title)


def test_shadow_agreement_and_missing_partners_are_what_was_planted(models: dict[str, Path], tmp_path: Path) -> None:
    # The shadow answers setosa to everything: it agrees on exactly the setosa rows (6 of 10).
    up = run(tmp_path / "home", "shadow-ab", f"primary.model.uri={models['knn']}", "primary.model.version=v1",
            f"shadow.model.uri={models['setosa']}", "shadow.model.version=v2", "compare.windowSeconds=2")  # fmt: skip
    try:
        prometheus, primary = str(up.state["prometheus"]), up.named("primary")["url"]
        compared = 'sum(mlpatterns_shadow_comparisons_total{result=~"agree|disagree"})'
        for row in (SETOSA[0], OTHERS[0], OTHERS[-1]):  # warm-up: agree, disagree both ways
            assert predict(up.gateway, row).status_code == 200
        assert predict(primary, SETOSA[1], {"x-request-id": "warm-alone"}).status_code == 200
        wait_for(compared, prometheus, 3)
        wait_for("sum(mlpatterns_shadow_unpaired_events_total)", prometheus, 1)
        time.sleep(2)
        started = time.time()
        summary = load(up, rows_file(tmp_path, "rows", SETOSA[:6] + OTHERS[:4]), 50, 4)
        for index in range(10):  # straight to the primary: no mirror, so no partner
            assert predict(primary, SETOSA[index], {"x-request-id": f"alone-{index}"}).status_code == 200
        assert summary["ok"] == 200
        wait_for(compared, prometheus, 203)
        wait_for('sum(mlpatterns_shadow_comparisons_total{result="missing"})', prometheus, 11)
        measured = Measured(up, started)

        measured.every_panel({"requests", "shadow", "unpaired", "log"})
        assert by(measured.panel(panel("Agreement rate")), "model") == {"iris": pytest.approx(0.6, abs=0.01)}
        share = by(measured.panel(panel("Traffic share by variant")), "role")
        assert share == {"primary": pytest.approx(1.0)}  # the mirror is not live traffic
        mirrored = measured.panel(panel("Mirrored requests per second"))
        assert by(mirrored, "version") == {"v2": pytest.approx(200 / float(measured.window[:-1]), rel=0.35)}
        pairs = {
            (dict(k)["primary_class"], dict(k)["shadow_class"]) for k in measured.panel(panel("Disagreements by class"))
        }
        assert pairs == {("1", "0"), ("2", "0")}
        assert set(by(measured.panel(panel("Events missing a partner")), "role")) == {"primary"}
        measured.fires({"MlpatternsShadowDisagreementHigh"})
        # The same rule, loaded from manifests/monitoring by up's Prometheus, is pending (its `for` is 10m).
        deadline = time.monotonic() + 20
        while not [
            a
            for a in httpx.get(f"{prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
            if a["labels"]["alertname"] == "MlpatternsShadowDisagreementHigh" and a["state"] == "pending"
        ]:
            assert time.monotonic() < deadline, "the loaded rule did not go pending"
            time.sleep(0.5)
        # The terminal view and the PNG read the same panels from the same Prometheus.
        watched = cli(up, "watch", "--once", "--window", "2m")
        agreement = re.search(r"shadow agreement of iris: ([0-9.]+)%", watched)
        assert agreement is not None, watched
        assert float(agreement.group(1)) == pytest.approx(60, abs=2)  # with the 3 warm-up rows
        assert "primary" in watched
        reported = cli(up, "report", "-o", str(tmp_path / "report.png"), "--minutes", "2")
        drawn = reported.split(" (", 1)[1].split(")\n", 1)[0].split("; ")
        # shadow-ab's panels (Overview and Shadow), the shadow's latency with the primary's; none of another pattern
        assert drawn == [panel.title for panel in panels_of("shadow-ab")], reported
        assert "Agreement rate" in drawn
        assert "Cache hit ratio" not in reported
        assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"
    finally:
        up.interrupt()


def test_the_split_and_a_failing_slow_canary_are_what_was_planted(models: dict[str, Path], tmp_path: Path) -> None:
    variants = [
        f"variants[{index}].{key}={value}"
        for index, (name, weight, model, version) in enumerate(
            (("primary", 70, "knn", "v1"), ("canary", 30, "planted", "v2"))
        )
        for key, value in (("name", name), ("weight", weight), ("model.uri", models[model]), ("model.version", version),
                           ("model.format", "sklearn"))
    ]  # fmt: skip
    up = run(tmp_path / "home", "online-ab", *variants)
    try:
        canary = {"x-mlpatterns-variant": "canary"}
        for row, code in ((SETOSA[0], 200), ([FAIL, 1.0, 1.0, 1.0], 500), ([SLOW, 1.0, 1.0, 1.0], 200)):
            assert predict(up.gateway, row, canary).status_code == code
            assert predict(up.gateway, row, {"x-mlpatterns-variant": "primary"}).status_code == 200
        time.sleep(3)
        started = time.time()
        # 2 of 20 rows fail on the canary, 1 of 20 is slow there; the primary answers all of them.
        planted = SETOSA[:9] + OTHERS[:8] + [[FAIL, 3.0, 1.0, 0.5], [FAIL, 2.0, 1.0, 0.5], [SLOW, 3.0, 1.0, 0.5]]
        summary = load(up, rows_file(tmp_path, "rows", planted), 50, 8)
        measured = Measured(up, started)

        shares = {v["role"]: v["share"] for v in summary["variants"]}
        measured.every_panel({"requests", "variants"})
        share = by(measured.panel(panel("Traffic share by variant")), "role")
        assert share == {"primary": pytest.approx(0.7, abs=0.08), "canary": pytest.approx(0.3, abs=0.08)}
        assert share["primary"] == pytest.approx(shares["primary"], abs=0.03)  # Prometheus agrees with the client
        errors = by(measured.panel(panel("Error ratio by variant")), "role")
        assert errors == {"primary": 0.0, "canary": pytest.approx(0.1, abs=0.07)}
        failed = summary["codes"].get("500", 0)
        assert errors["canary"] == pytest.approx(failed / (shares["canary"] * summary["sent"]), abs=0.03)
        p99 = by(measured.panel(panel("Latency p99 by variant")), "role")
        assert p99["canary"] > 0.5 > p99["primary"]
        measured.fires({"MlpatternsVariantErrorRatioAbovePrimary", "MlpatternsLatencyP99High"})
        failing = {s["metric"]["role"] for s in measured.instant(RULES["MlpatternsVariantErrorRatioAbovePrimary"])}
        assert failing == {"canary"}
        slow = {s["metric"]["role"] for s in measured.instant(RULES["MlpatternsLatencyP99High"])}
        assert "canary" in slow
        assert slow <= {"canary"} | {role for role, seconds in p99.items() if seconds > 0.4}
    finally:
        up.interrupt()


def test_the_cache_hit_ratio_and_micro_batches_are_what_was_planted(models: dict[str, Path], tmp_path: Path) -> None:
    up = run(tmp_path / "home", "prediction-cache", f"model.uri={models['knn']}", "server.batching.enabled=true")
    try:
        for row in OTHERS[-2:]:  # warm-up: a miss, then a hit
            assert predict(up.gateway, row).status_code == 200
            assert predict(up.gateway, row).status_code == 200
        time.sleep(3)
        server = [up.named("predictor")["metrics"]]
        before = read(server)
        started = time.time()
        load(up, rows_file(tmp_path, "rows", SETOSA[:10]), 20, 5)  # 10 rows, each sent 10 times: 90% hits
        measured = Measured(up, started)
        after = read(server)

        measured.every_panel({"requests", "cache", "batching"})
        # What the server counted: 90 hits on a quiet machine; on a busy one some lookups time out
        # (errors, predicted as usual: the cache fails open). The panels must show exactly that.
        counted = {result: after[key] - before.get(key, 0.0) for key in after
                   if key[0] == "mlpatterns_cache_requests_total" for result in [dict(key[1])["result"]]}  # fmt: skip
        assert sum(counted.values()) == 100
        assert counted["miss"] <= 20, counted  # each row's first sight, and repeats sent before it was stored
        hit_ratio = by(measured.panel(panel("Cache hit ratio")), "model")
        assert hit_ratio == {"iris": pytest.approx(counted["hit"] / 100, abs=0.02)}
        lookups = by(measured.panel(panel("Cache lookups by result")), "result")
        # Each result's share of the lookups: rate() extrapolates every series of one target alike,
        # so shares are exact where rate x window is a few percent off.
        for result, count in counted.items():
            assert lookups[result] / sum(lookups.values()) == pytest.approx(count / 100, abs=0.02), (result, lookups)
        dependency = by(measured.panel(panel("Cache dependency errors (predicted without the cache)")), "model")
        assert dependency == {"iris": pytest.approx(counted["error"] / 100, abs=0.02)}
        assert by(measured.panel(panel("Mean micro-batch size")), "model")["iris"] >= 1
        measured.fires(set())
        # `watch` tells the cache's own failures apart from failed requests, `report` draws the cache.
        watched = cli(up, "watch", "--once", "--window", "1m")
        shares = re.search(r"cache of iris: ([0-9.]+)% hits, ([0-9.]+)% misses, ([0-9.]+)% Redis errors", watched)
        assert shares is not None, watched
        assert float(shares[1]) == pytest.approx(100 * counted["hit"] / 100, abs=12), watched  # with the warm-up
        assert ("predicted without the cache" in watched) == (float(shares[3]) > 0)
        reported = cli(up, "report", "-o", str(tmp_path / "report.png"), "--minutes", "2")
        for title in ("Cache hit ratio", "Cache dependency errors (predicted without the cache)"):
            assert title in reported
        assert "Agreement rate" not in reported, "no shadow panel for a pattern without a shadow"
    finally:
        up.interrupt()


def test_watch_once_right_after_traffic_waits_for_prometheus_to_scrape_it(
    models: dict[str, Path], tmp_path: Path
) -> None:
    """Requests sent just now are not in Prometheus until its next scrapes: `watch --once` waits
    for them instead of saying there is no traffic."""
    up = Up(tmp_path / "home", "web-single", f"model.uri={models['knn']}", extra=("--scrape-interval", "5"))
    try:
        for row in SETOSA[:3]:
            assert predict(up.gateway, row).status_code == 200
        watched = cli(up, "watch", "--once")
        assert "no traffic yet" not in watched
        assert re.search(r"│ iris\s+│ \S+\s+│ primary", watched), watched
    finally:
        up.interrupt()


def test_the_async_queue_is_what_was_planted(models: dict[str, Path], tmp_path: Path) -> None:
    up = run(tmp_path / "home", "asynchronous", f"model.uri={models['knn']}")
    try:
        started = time.time()
        summary = load(up, rows_file(tmp_path, "rows", SETOSA[:5]), 10, 2)
        assert summary["ok"] == 20  # 202 Accepted
        measured = Measured(up, started)
        measured.every_panel({"requests", "async"})
        states = by(measured.panel(panel("Async jobs by state")), "state")
        assert set(states) >= {"submitted", "done"}, states
        measured.fires(set())
    finally:
        up.interrupt()
