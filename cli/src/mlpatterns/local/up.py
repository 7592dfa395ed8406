"""`mlpatterns up [RELEASE] <chart>`: render the chart with the values `helm install` would take
(plus global.mlpatternsLocal, so a model may be a local path or a models:/ URI of the local MLflow
store), turn it into local processes (topology.py) and run them (supervisor.py) until Ctrl-C or
`mlpatterns down`; with --detach, in the background once everything is ready."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from mlpatterns.charts.rendering import render
from mlpatterns.local.supervisor import READY_SECONDS, StartFailed, Supervisor, free_port, home, state_file
from mlpatterns.local.topology import NAMESPACE, Options, PortPool, Topology, build

READY_LINE = "mlpatterns up: ready"


@dataclass(frozen=True)
class Request:
    """What the user asked `up` to run, and how."""

    chart: Path
    values: dict[str, Any]
    release: str = "demo"
    namespace: str = NAMESPACE
    port: int = 8080
    baked_model: Path | None = None
    scrape_seconds: float = 5.0
    with_prometheus: bool = True


def plan(request: Request, workdir: Path, ports: PortPool | None = None) -> Topology:
    """What the chart runs as here, with these values (nothing starts)."""
    values = request.values
    local = {**values, "global": {**values.get("global", {}), "mlpatternsLocal": True}}
    documents = [manifest.document for manifest in render(request.chart, local, request.release, request.namespace)]
    options = Options(workdir, ports or PortPool(free_port), namespace=request.namespace,
                      baked_model=request.baked_model, environment=os.environ,
                      local_tracking_uri=f"sqlite:///{home() / 'mlflow.db'}")  # fmt: skip
    return build(documents, options)


def up(request: Request, console: Console) -> int:
    chart, port = request.chart, request.port
    if state_file(port).exists():
        console.print(f"[red]mlpatterns up: something runs on port {port} already[/] (`mlpatterns down --port {port}`)")
        return 2
    workdir = home() / "up" / f"{chart.name}-{port}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    topology = plan(request, workdir)
    if topology.problems:
        console.print(f"[red]mlpatterns up: {chart.name} cannot run here:[/]")
        for problem in topology.problems:
            console.print(f"  {problem}", markup=False)
        return 2
    model = (request.values.get("model") or {}).get("name") or _default_model(chart)
    supervisor = Supervisor(chart.name, topology, workdir, port, console, request.scrape_seconds,
                            request.with_prometheus, model, request.namespace)  # fmt: skip

    def stop(signum: int, frame: FrameType | None) -> None:
        supervisor.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        supervisor.start()
        supervisor.report()
        status = supervisor.run_jobs()
        if not topology.long_running:
            return status
        console.print(f"[green]{READY_LINE}[/] (Ctrl-C or `mlpatterns down` stops everything)")
        sys.stdout.flush()
        supervisor.watch()
        return 0
    except StartFailed as failed:
        console.print(f"mlpatterns up: {failed}", markup=False, style="red")
        return 1
    finally:
        supervisor.stop()
        console.print(f"mlpatterns up {chart.name}: stopped")


def detach(words: list[str], port: int, console: Console) -> int:
    """The same `up` in the background, its output in a log file: what it prints until it is ready
    is shown here, then this returns (0 once ready; its status if it ends first)."""
    log = home() / "up" / f"{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "mlpatterns", *(word for word in words if word not in ("-d", "--detach"))]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env={**os.environ, "COLUMNS": "160"})  # fmt: skip
    shown = 0
    deadline = time.monotonic() + READY_SECONDS * 2
    while True:
        text = log.read_text(errors="replace")
        lines = text.splitlines(keepends=True)
        complete = len(lines) if text.endswith("\n") else len(lines) - 1
        for line in lines[shown:complete]:
            if READY_LINE in line:
                console.print(f"{READY_LINE}, in the background (log {log}; `mlpatterns down --port {port}` "
                              "stops it)", markup=False)  # fmt: skip
                return 0
            console.print(line, end="", markup=False)
        shown = max(shown, complete)
        status = process.poll()
        if status is not None and shown >= len(lines):
            return status or 1
        if time.monotonic() > deadline:
            process.terminate()
            console.print(f"mlpatterns up: not ready after {READY_SECONDS * 2:g} s (log {log})", style="red")
            return 1
        time.sleep(0.2)


def _default_model(chart: Path) -> str | None:
    import yaml

    values = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    name = (values.get("model") or {}).get("name")
    return str(name) if name else None
