"""`make demo`, the README's main command: the story of two models side by side, on this machine.

1. Train two versions of the iris classifier with the training pipeline, run locally (kfp.local),
   tracked and registered in a local MLflow registry: v1 (gradient boosting), then v2 (logistic
   regression) as the challenger.
2. Shadow AB test: `mlpatterns up shadow-ab` with v1 answering and v2 as the shadow, traffic from
   `mlpatterns load`, and the agreement the comparison measured.
3. Online AB test: `mlpatterns up online-ab`, 90/10 between v1 and v2, and the split users got.
4. `mlpatterns report`: the panels of both runs as one PNG. Then everything started is stopped.

Every step prints the command that does it by hand. All of it lives in .demo/ (MLPATTERNS_HOME)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
HOME = WORK / "home"
REPORT = WORK / "report.png"
BIN = Path(sys.executable).parent
console = Console(highlight=False)
# The demo's own store: the user's ~/.mlpatterns registry, or a tracking server MLFLOW_TRACKING_URI
# names, is left alone (the pipeline and the servers would otherwise use it).
os.environ["MLPATTERNS_HOME"] = str(HOME)
os.environ.pop("MLFLOW_TRACKING_URI", None)

from mlpatterns.local.supervisor import down, free_port  # noqa: E402
from mlpatterns.observe.figure import draw  # noqa: E402
from mlpatterns.observe.views import snapshot  # noqa: E402
from mlpatterns.traffic.command import load  # noqa: E402
from mlpatterns.traffic.load import Plan  # noqa: E402

RPS, SECONDS, USERS = 25, 12, 50


def shown(command: list[str]) -> str:
    """The command as it can be pasted at the repository's root."""
    return shlex.join([os.path.relpath(part, ROOT) if part.startswith(str(ROOT)) else part for part in command])


def run(command: list[str]) -> None:
    console.print(f"$ {shown(command)}", style="bold")
    done = subprocess.run(command, cwd=ROOT, env=os.environ, check=False)
    if done.returncode != 0:
        sys.exit(f"demo: `{shown(command)}` failed ({done.returncode})")


class Pattern:
    """A chart under `mlpatterns up`, in the background until stop()."""

    def __init__(self, chart: str, *sets: str) -> None:
        self.chart, self.port = chart, free_port()
        command = [str(BIN / "mlpatterns"), "up", chart, "--port", str(self.port), "--scrape-interval", "1",
                   *(part for value in sets for part in ("--set", value))]  # fmt: skip
        console.print(f"$ {shown(command)}", style="bold")
        self.log = WORK / f"up-{chart}.log"
        self.process = subprocess.Popen(command, stdout=self.log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT,
                                        env={**os.environ, "COLUMNS": "160"})  # fmt: skip
        deadline = time.monotonic() + 180
        while "mlpatterns up: ready" not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"demo: {chart} did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        self.state: dict[str, Any] = json.loads((HOME / "up" / f"{self.port}.json").read_text())
        console.print(f"{chart} is up: gateway {self.state['gateway']}, Prometheus {self.state['prometheus']}")

    def stop(self) -> None:
        down(self.port, console)
        self.process.wait(timeout=60)


def agreement(pattern: Pattern) -> float | None:
    """The shadow's agreement as its dashboard panel reads it, once the comparison has seen the traffic."""
    deadline = time.monotonic() + 30
    seen = None
    while time.monotonic() < deadline:
        view = snapshot(pattern.state["prometheus"], "2m", "mlpatterns")
        if view.agreement.get("iris") is not None and view.agreement["iris"] == seen:
            return seen
        seen = view.agreement.get("iris")
        time.sleep(2)
    return seen


class Stages:
    """The numbered stages, each ruled with the time it starts at and closed with how long it took."""

    def __init__(self, total: int) -> None:
        self.total, self.number = total, 0
        self.started = self.stage_started = time.monotonic()

    def next(self, title: str) -> None:
        self.close()
        self.number += 1
        self.stage_started = time.monotonic()
        console.rule(f"{self.number}/{self.total}  {title}  [dim](at {self.stage_started - self.started:.0f} s)[/]")

    def close(self) -> None:
        if self.number:
            console.print(f"[dim]stage {self.number} took {time.monotonic() - self.stage_started:.0f} s[/]")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def main() -> None:
    stages = Stages(4)
    shutil.rmtree(WORK, ignore_errors=True)
    HOME.mkdir(parents=True)
    pipelines = str(BIN / "mlpatterns-pipelines")

    stages.next("train v1 and v2 with the training pipeline (kfp.local), registered in MLflow")
    run([pipelines, "run-local", "batch-training"])
    run([pipelines, "run-local", "batch-training", "--param", "algorithm=logistic_regression"])

    patterns: list[Pattern] = []
    try:
        stages.next("shadow AB test: v1 answers, v2 gets a mirrored copy of every request")
        shadow = Pattern("shadow-ab", "primary.model.uri=models:/iris/1", "shadow.model.uri=models:/iris/2",
                         "compare.windowSeconds=3")  # fmt: skip
        patterns.append(shadow)
        console.print(f"$ .venv/bin/mlpatterns load shadow-ab --rps {RPS} --duration {SECONDS} --users {USERS}",
                      style="bold")  # fmt: skip
        load("shadow-ab", Plan(RPS, SECONDS, USERS), console)
        agreed = agreement(shadow)

        stages.next("online AB test: 90% of users on v1, 10% on v2 (the canary)")
        variants = [f"variants[{i}].{key}={value}" for i, (name, weight, version) in
                    enumerate((("primary", 90, 1), ("canary", 10, 2)))
                    for key, value in (("name", name), ("weight", weight), ("model.uri", f"models:/iris/{version}"),
                                       ("model.format", "sklearn"))]  # fmt: skip
        online = Pattern("online-ab", *variants)
        patterns.append(online)
        console.print(f"$ .venv/bin/mlpatterns load online-ab --rps {RPS} --duration {SECONDS} --users {USERS}",
                      style="bold")  # fmt: skip
        split = load("online-ab", Plan(RPS, SECONDS, USERS), console)

        stages.next("the report: what the dashboards show, as a PNG")
        console.print(f"$ .venv/bin/mlpatterns report -o {REPORT.relative_to(ROOT)} --minutes 3", style="bold")
        sources = [(p.chart, p.state["prometheus"]) for p in patterns]
        drawn, _ = draw(sources, REPORT, 3, "mlpatterns")
        console.print(f"{REPORT.relative_to(ROOT)}: {'; '.join(drawn)}")
    finally:
        for pattern in reversed(patterns):
            pattern.stop()

    stages.close()
    console.rule(f"done in {stages.elapsed:.0f} s; everything it started is stopped")
    if agreed is not None:
        console.print(f"shadow AB: v2 agreed with v1 on {agreed:.1%} of the mirrored requests")
    if split:
        shares = ", ".join(f"{v['role']} (v{v['version']}) {v['share']:.1%}" for v in split["variants"])
        console.print(
            f"online AB: {shares} of {split['sent']} requests; "
            f"client-side p50 {split['p50_ms']} ms, p99 {split['p99_ms']} ms"
        )
    console.print(f"report: {REPORT.relative_to(ROOT)}")
    console.print("next: charts/ (helm install a pattern), docs/observability.md (the dashboards and alerts),")
    console.print(
        "      manifests/monitoring/ (the dashboards' JSON for Grafana), docs/local-runtime.md (mlpatterns up)"
    )


if __name__ == "__main__":
    main()
