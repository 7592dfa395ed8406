"""`mlpatterns up` as a real process for tests: started with its own MLPATTERNS_HOME, awaited until
it says it is ready, read through its state file, and stopped with Ctrl-C (SIGINT) or `mlpatterns
down`, after which none of the processes it started may be left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.processes import free_port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def descendants(pid: int) -> list[int]:
    """The process's children, theirs, and so on."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            queue += children
    return found


class Up:
    def __init__(self, home: Path, chart: str, *sets: str, ready_timeout: float = 240,
                 extra: tuple[str, ...] = ()) -> None:  # fmt: skip
        self.home = home
        self.port = free_port()
        home.mkdir(parents=True, exist_ok=True)
        self.log = home / f"up-{chart}-{self.port}.log"
        self._out = self.log.open("wb")
        command = [sys.executable, "-m", "mlpatterns", "up", chart, "--port", str(self.port), "--scrape-interval",
                   "1", *extra, *(part for value in sets for part in ("--set", value))]  # fmt: skip
        self.env = {**os.environ, "MLPATTERNS_HOME": str(home), "COLUMNS": "200"}
        self.process = subprocess.Popen(command, stdout=self._out, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + ready_timeout
        while "mlpatterns up: ready" not in self.output():
            if self.process.poll() is not None:
                raise RuntimeError(f"mlpatterns up exited with {self.process.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                self.interrupt()
                raise TimeoutError(f"mlpatterns up was not ready after {ready_timeout} s:\n{self.output()}")
            time.sleep(0.3)
        self.state: dict[str, Any] = json.loads((home / "up" / f"{self.port}.json").read_text())
        self.started = [process["pid"] for process in self.state["processes"]]

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")

    @property
    def gateway(self) -> str:
        return str(self.state["gateway"])

    def named(self, name_part: str) -> dict[str, Any]:
        return next(p for p in self.state["processes"] if name_part in p["name"])

    def refresh(self) -> None:
        self.state = json.loads((self.home / "up" / f"{self.port}.json").read_text())

    def interrupt(self) -> int:
        """Ctrl-C: everything up started stops."""
        self.started = sorted({*self.started, *descendants(self.process.pid)})
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self._out.close()
        return code

    def down(self) -> subprocess.CompletedProcess[str]:
        self.started = sorted({*self.started, *descendants(self.process.pid)})
        done = subprocess.run([sys.executable, "-m", "mlpatterns", "down", "--port", str(self.port)], env=self.env,
                              capture_output=True, text=True, timeout=90)  # fmt: skip
        self.process.wait(timeout=60)
        self._out.close()
        return done

    def leftovers(self) -> list[int]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(pid) for pid in self.started):
            time.sleep(0.2)
        return [pid for pid in self.started if alive(pid)]
