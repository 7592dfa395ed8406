"""`mlpatterns up <chart>`: render the chart with the values `helm install` would take (plus
global.mlpatternsLocal, so a model may be a local path or a models:/ URI of the local MLflow
store), turn it into local processes (topology.py) and run them (supervisor.py) until Ctrl-C or
`mlpatterns down`."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from mlpatterns.charts.rendering import render
from mlpatterns.local.supervisor import StartFailed, Supervisor, free_port, home, state_file
from mlpatterns.local.topology import Options, PortPool, Topology, build


def plan(chart: Path, values: dict[str, Any], baked_model: Path | None, workdir: Path,
         ports: PortPool | None = None) -> Topology:  # fmt: skip
    """What the chart runs as here, with these values (nothing starts)."""
    local = {**values, "global": {**values.get("global", {}), "mlpatternsLocal": True}}
    documents = [manifest.document for manifest in render(chart, local)]
    options = Options(workdir, ports or PortPool(free_port), baked_model=baked_model, environment=os.environ,
                      local_tracking_uri=f"sqlite:///{home() / 'mlflow.db'}")  # fmt: skip
    return build(documents, options)


def up(chart: Path, values: dict[str, Any], port: int, console: Console, baked_model: Path | None = None,
       scrape_seconds: float = 5.0, with_prometheus: bool = True) -> int:  # fmt: skip
    if state_file(port).exists():
        console.print(f"[red]mlpatterns up: something runs on port {port} already[/] (`mlpatterns down --port {port}`)")
        return 2
    workdir = home() / "up" / f"{chart.name}-{port}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    topology = plan(chart, values, baked_model, workdir)
    if topology.problems:
        console.print(f"[red]mlpatterns up: {chart.name} cannot run here:[/]")
        for problem in topology.problems:
            console.print(f"  {problem}", markup=False)
        return 2
    model = (values.get("model") or {}).get("name") or _default_model(chart)
    supervisor = Supervisor(chart.name, topology, workdir, port, console, scrape_seconds, with_prometheus, model)

    def stop(signum: int, frame: FrameType | None) -> None:
        supervisor.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        console.print(f"mlpatterns up {chart.name}: starting {len(topology.long_running)} processes ...")
        supervisor.start()
        supervisor.report()
        status = supervisor.run_jobs()
        if not topology.long_running:
            return status
        console.print("[green]mlpatterns up: ready[/] (Ctrl-C or `mlpatterns down` stops everything)")
        sys.stdout.flush()
        supervisor.watch()
        return 0
    except StartFailed as failed:
        console.print(f"mlpatterns up: {failed}", markup=False, style="red")
        return 1
    finally:
        supervisor.stop()
        console.print(f"mlpatterns up {chart.name}: stopped")


def _default_model(chart: Path) -> str | None:
    import yaml

    values = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    name = (values.get("model") or {}).get("name")
    return str(name) if name else None
