"""`mlpatterns up` and `mlpatterns down`: a chart's topology (topology.py) as local processes, the
gateway in front of them (gateway.py), and Prometheus scraping them when it is installed.

Every process runs in a process group of its own and is told to end when this supervisor does
(PR_SET_PDEATHSIG), so nothing outlives it, also when it is killed: stopping ends each group, by
force after a grace period. A process that exits while `up` runs is reported with the end of its
log and started again after a backoff, as a kubelet would; its leftovers (workers, helpers) are
ended with its group first. Jobs (a CronJob's, an Indexed Job's shards) run once, when every
service is ready. The state file ($MLPATTERNS_HOME/up/<port>.json) tells `down`, and tests, what
runs where."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from mlpatterns.local import prometheus
from mlpatterns.local.topology import NAMESPACE, Process, Topology

READY_SECONDS = 240.0
PROGRESS_SECONDS = 10.0  # how often `up` says what is still starting
STOP_SECONDS = 15.0
BACKOFF_MAX = 30.0
PR_SET_PDEATHSIG = 1


def home() -> Path:
    return Path(os.environ.get("MLPATTERNS_HOME", "~/.mlpatterns")).expanduser()


def state_file(port: int) -> Path:
    return home() / "up" / f"{port}.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child_setup() -> None:
    """In the child, before it runs: a process group of its own, and SIGTERM when we die."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Running:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes]
    process: Process | None = None
    restarts: int = 0
    restart_at: float | None = None

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 12) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class StartFailed(Exception):
    pass


class Supervisor:
    def __init__(
        self, chart: str, topology: Topology, workdir: Path, port: int, console: Console,
        scrape_seconds: float = 5.0, with_prometheus: bool = True, model: str | None = None,
        namespace: str = NAMESPACE,
    ) -> None:  # fmt: skip
        self.chart = chart
        self.namespace = namespace
        self.topology = topology
        self.workdir = workdir
        self.port = port
        self.console = console
        self.scrape_seconds = scrape_seconds
        self.with_prometheus = with_prometheus
        self.model = model
        self.running: list[Running] = []
        self.admin_port: int | None = None
        self.prometheus_port: int | None = None
        self.stopping = False
        self.started = time.monotonic()
        self.name_width = len("prometheus")

    # -- starting

    def spawn(self, name: str, command: list[str], env: dict[str, str], process: Process | None = None) -> Running:
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{name}.log"
        (self.workdir / name).mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            popen = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env},
                                     cwd=self.workdir / name, preexec_fn=_child_setup)  # fmt: skip
        running = Running(name, command, env, log, popen, process)
        self.running.append(running)
        return running

    def start(self) -> None:
        services = self.topology.long_running
        gateway = bool(self.topology.routing or self.topology.fallback)
        prometheus_here = self.with_prometheus and prometheus.binary() is not None
        count = len(services) + gateway + prometheus_here
        self.console.print(f"mlpatterns up {self.chart}: starting {count} process{'es' if count != 1 else ''} ...")
        self.started = time.monotonic()
        self.name_width = max([len(process.name) for process in services] + [len("prometheus")])
        # Redis first: the servers that log or queue to it probe it at start.
        redis = [process for process in services if process.program == "redis"]
        self._wait_all([self.spawn(process.name, self._command(process), process.env, process) for process in redis])
        others = [process for process in services if process.program != "redis"]
        self._wait_all([self.spawn(process.name, self._command(process), process.env, process) for process in others])
        if gateway:
            self._start_gateway()
        if prometheus_here:
            self._start_prometheus()
        self.write_state()

    def _command(self, process: Process) -> list[str]:
        if process.program == "redis" and not shutil.which("redis-server"):
            raise StartFailed("redis-server is not installed (`make setup` installs it)")
        return [sys.executable if part == "python" else part for part in process.command]

    def _start_gateway(self) -> None:
        self.admin_port = free_port()
        config = {"documents": self.topology.routing, "services": self.topology.services,
                  "fallback": self.topology.fallback, "port": self.port, "admin_port": self.admin_port,
                  "namespace": self.namespace}  # fmt: skip
        path = self.workdir / "gateway.json"
        path.write_text(json.dumps(config))
        gateway = self.spawn("gateway", [sys.executable, "-m", "mlpatterns.local.gateway", str(path)], {})
        self._wait_all([gateway], {gateway.name: [(self.admin_port, "/ready"), (self.port, None)]},
                       {gateway.name: f"http://127.0.0.1:{self.port}"})  # fmt: skip

    def _start_prometheus(self) -> None:
        executable = prometheus.binary()
        assert executable is not None
        targets = [
            {
                "name": process.name,
                "address": f"127.0.0.1:{process.metrics[0]}",
                "path": process.metrics[1],
                "labels": {
                    "namespace": self.namespace,
                    "pod": process.name,
                    "component": process.component,
                    "chart": self.chart,
                },
            }
            for process in self.topology.long_running
            if process.metrics
        ]
        if self.admin_port:
            targets.append({"name": "gateway", "address": f"127.0.0.1:{self.admin_port}", "path": "/metrics",
                            "labels": {"namespace": self.namespace, "pod": "gateway", "component": "gateway",
                                       "chart": self.chart}})  # fmt: skip
        folder = self.workdir / "prometheus"
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "prometheus.yml"
        config.write_text(prometheus.config(targets, self.scrape_seconds, prometheus.rule_files()))
        self.prometheus_port = free_port()
        running = self.spawn("prometheus", prometheus.command(executable, config, folder / "data",
                                                              self.prometheus_port), {})  # fmt: skip
        self._wait_all([running], {running.name: [(self.prometheus_port, "/-/ready")]},
                       {running.name: f"http://127.0.0.1:{self.prometheus_port}"})  # fmt: skip
        self._wait_scraped(len(targets))

    def _wait_scraped(self, count: int) -> None:
        """Until Prometheus has scraped every target (it takes its first targets seconds after it is
        ready): traffic sent once `up` says ready is then all counted."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{self.prometheus_port}/api/v1/targets?state=active"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    active = json.load(answer)["data"]["activeTargets"]
                if len(active) >= count and all(target["health"] == "up" for target in active):
                    return
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        self.console.print("[yellow]prometheus has not scraped every process yet[/] (its targets: "
                           f"http://127.0.0.1:{self.prometheus_port}/targets)")  # fmt: skip

    def _wait_all(self, started: list[Running], probes: dict[str, list[tuple[int, str | None]]] | None = None,
                  addresses: dict[str, str] | None = None) -> None:  # fmt: skip
        """Until every process started answers its probes (its readiness probe by default): one line
        for each as it becomes ready, and every PROGRESS_SECONDS one for those still starting."""
        pending = {running.name: running for running in started}
        left = {name: list((probes or {}).get(name) or _readiness(running)) for name, running in pending.items()}
        deadline = time.monotonic() + READY_SECONDS
        progress = time.monotonic() + PROGRESS_SECONDS
        while pending:
            for name, running in list(pending.items()):
                if not running.alive:
                    raise StartFailed(f"{name} exited with {running.popen.returncode}:\n{running.tail()}")
                while left[name] and _answers(*left[name][0]):
                    left[name].pop(0)
                if not left[name]:
                    del pending[name]
                    where = (addresses or {}).get(name) or _address(running.process) or ""
                    self.console.print(f"  [green]ready[/] {name:<{self.name_width}}  {where:<24} "
                                       f"{time.monotonic() - self.started:5.1f} s")  # fmt: skip
            now = time.monotonic()
            if pending and now > deadline:
                running = next(iter(pending.values()))
                raise StartFailed(f"{running.name} was not ready after {READY_SECONDS:g} s:\n{running.tail()}")
            if pending and now > progress:
                progress = now + PROGRESS_SECONDS
                self.console.print(f"  still starting: {', '.join(pending)} ({now - self.started:.0f} s)")
            if pending:
                time.sleep(0.2)

    # -- jobs

    def run_jobs(self) -> int:
        """Each job once, shards side by side; the worst exit status."""
        if not self.topology.jobs:
            return 0
        started = [self.spawn(job.name, self._command(job), job.env, job) for job in self.topology.jobs]
        status = 0
        for running in started:
            code = running.popen.wait()
            self.running.remove(running)
            status = status or code
            verdict = "[green]done[/]" if code == 0 else f"[red]failed ({code})[/]"
            self.console.print(f"job {running.name}: {verdict}; log {running.log}")
            if code != 0:
                self.console.print(running.tail(), markup=False)
        return status

    # -- running

    def watch(self) -> None:
        """Until stopped: report and restart what exits."""
        while not self.stopping:
            now = time.monotonic()
            for running in list(self.running):
                if running.restart_at is not None:
                    if now >= running.restart_at:
                        self._restart(running)
                elif not running.alive:
                    _end_group(running.popen.pid, signal.SIGKILL)  # its leftovers
                    delay = min(BACKOFF_MAX, 2.0**running.restarts)
                    running.restart_at = now + delay
                    self.console.print(f"[yellow]{running.name} exited with {running.popen.returncode}; "
                                       f"starting it again in {delay:g} s[/] (log {running.log})")  # fmt: skip
                    self.console.print(running.tail(6), markup=False)
            time.sleep(0.3)

    def _restart(self, running: Running) -> None:
        with running.log.open("ab") as out:
            running.popen = subprocess.Popen(running.command, stdout=out, stderr=subprocess.STDOUT,
                                             env={**os.environ, **running.env}, cwd=self.workdir / running.name,
                                             preexec_fn=_child_setup)  # fmt: skip
        running.restarts += 1
        running.restart_at = None
        self.write_state()

    def stop(self) -> None:
        self.stopping = True
        for running in reversed(self.running):
            _end_group(running.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for running in reversed(self.running):
            with contextlib.suppress(subprocess.TimeoutExpired):
                running.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            _end_group(running.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                running.popen.wait(timeout=5)
        with contextlib.suppress(OSError, ValueError):
            path = state_file(self.port)
            if json.loads(path.read_text())["pid"] == os.getpid():  # ours, not a later up's
                path.unlink()

    # -- telling

    def write_state(self) -> None:
        path = state_file(self.port)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "pid": os.getpid(), "chart": self.chart, "port": self.port, "workdir": str(self.workdir),
            "gateway": f"http://127.0.0.1:{self.port}" if self.admin_port else None,
            "model": self.model, "front": "jobs" if self.jobs_api else "predict",
            "admin": f"http://127.0.0.1:{self.admin_port}" if self.admin_port else None,
            "prometheus": f"http://127.0.0.1:{self.prometheus_port}" if self.prometheus_port else None,
            "processes": [
                {"name": r.name, "pid": r.popen.pid, "log": str(r.log), "url": _address(r.process),
                 "component": r.process.component if r.process else r.name,
                 "metrics": f"http://127.0.0.1:{r.process.metrics[0]}{r.process.metrics[1]}"
                 if r.process and r.process.metrics else None}
                for r in self.running
            ],
        }  # fmt: skip
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=1))
        temporary.replace(path)

    def report(self) -> None:
        console = self.console if self.console.is_terminal else Console(width=200, highlight=False)
        table = Table(title=f"mlpatterns up {self.chart}", show_lines=False)
        for column in ("process", "component", "address", "log"):
            table.add_column(column)
        for running in self.running:
            process = running.process
            address = _address(process) or "-"
            table.add_row(running.name, process.component if process else running.name, address, str(running.log))
        console.print(table)
        if self.admin_port:
            self.console.print(f"gateway   http://127.0.0.1:{self.port}   (its routes: http://127.0.0.1:{self.admin_port}"
                               "/routes, metrics: /metrics there)")  # fmt: skip
            self.console.print(f"  {self._example()}", markup=False)
        if self.prometheus_port:
            self.console.print(f"prometheus http://127.0.0.1:{self.prometheus_port}")
        elif self.with_prometheus:
            self.console.print("prometheus: not installed (`make setup` installs it); nothing scrapes the processes")
        for note in [*self.topology.notes, *self._gateway_notes()]:
            self.console.print(f"[dim]note: {note}[/]", markup=True)

    @property
    def jobs_api(self) -> bool:
        """The front door is the asynchronous pattern's jobs API, not a prediction endpoint."""
        return any("async-api" in process.command for process in self.topology.long_running)

    def _example(self) -> str:
        """How to call the chart's front door: the jobs API of the asynchronous pattern, else a prediction."""
        row = """-d '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'"""
        if self.jobs_api:
            return f"curl -s -X POST http://127.0.0.1:{self.port}/v1/jobs {row}   # then GET /v1/jobs/<id>"
        return f"curl -s http://127.0.0.1:{self.port}/v1/models/{self.model or '<model>'}:predict {row}"

    def _gateway_notes(self) -> list[str]:
        """What the gateway does not emulate of the chart's routing objects."""
        if not self.admin_port:
            return []
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/routes", timeout=5) as answer:
            return [f"not emulated by the gateway: {note}" for note in json.load(answer)["not_emulated"]]


def _readiness(running: Running) -> list[tuple[int, str | None]]:
    process = running.process
    return [process.ready] if process and process.ready else []


def _answers(port: int, path: str | None) -> bool:
    """GET path answers 200 on port (a TCP connection is enough when path is None)."""
    try:
        if path is None:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _address(process: Process | None) -> str | None:
    if process is None or not process.http_port:
        return None
    return f"{'redis' if process.program == 'redis' else 'http'}://127.0.0.1:{process.http_port}"


def _end_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def states() -> Iterator[dict[str, Any]]:
    folder = home() / "up"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        with contextlib.suppress(OSError, ValueError):
            yield json.loads(path.read_text())


def down(port: int | None, console: Console) -> int:
    """Stop what `up` started (on `port`, or every one): the supervisor, which stops its processes;
    and each process group it recorded, should the supervisor be gone."""
    stopped = 0
    for state in states():
        if port is not None and state["port"] != port:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(state["pid"], signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS + 10
        while time.monotonic() < deadline and _alive(state["pid"]):
            time.sleep(0.2)
        for process in state["processes"]:
            _end_group(process["pid"], signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            state_file(state["port"]).unlink()
        console.print(f"stopped {state['chart']} on port {state['port']} ({len(state['processes'])} processes)")
        stopped += 1
    if not stopped:
        console.print("nothing to stop: no `mlpatterns up` is running" + (f" on port {port}" if port else ""))
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    return True
