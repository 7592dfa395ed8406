"""Run a pipeline on this machine with kfp.local and show it the way a person reads it: one line
per step (name, status, time; a live display on a terminal), the reason of a failure last, and
everything kfp.local and the components print (hundreds of lines of executor JSON per run) in a
log file instead of on the screen."""

from __future__ import annotations

import contextlib
import io
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.text import Text

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STARTED = re.compile(r"Executing task '(?P<name>[^']+)'")
_FINISHED = re.compile(r"Task '(?P<name>[^']+)' finished with status (?P<status>[A-Z]+)")
# kfp.local indents what a component prints by four spaces.
_STREAMED_INDENT = "    "


@dataclass
class Step:
    name: str
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None
    succeeded: bool | None = None
    output: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    steps: list[Step]
    seconds: float
    reason: str | None

    @property
    def failed_step(self) -> Step | None:
        return next((step for step in self.steps if step.succeeded is False), None)


def failure_reason(lines: list[str]) -> str | None:
    """The exception a component died of: the text after the last traceback's frames, with the
    exception's module path cut (`ValidationFailed: ...`, not `mlpatterns_pipelines...`)."""
    dedented = [line.removeprefix(_STREAMED_INDENT) for line in lines]
    starts = [i for i, line in enumerate(dedented) if line.startswith("Traceback (most recent call last):")]
    if not starts:
        return None
    after = dedented[starts[-1] + 1 :]
    first = next((i for i, line in enumerate(after) if line and not line.startswith(" ")), None)
    if first is None:
        return None
    message = "\n".join(after[first:]).strip()
    return re.sub(r"^(?:[A-Za-z_][\w]*\.)+(?=[A-Za-z_]\w*(?::|$))", "", message, count=1)


class _Seconds(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        return Text(f"{elapsed or 0:.1f}s", style="progress.elapsed")


class StepDisplay:
    """Steps as they start and finish: a live list on a terminal, else a line per finished step."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Progress | None = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> StepDisplay:
        if self.console.is_terminal:
            self.progress = Progress(
                SpinnerColumn(finished_text=""),
                TextColumn("{task.fields[mark]} {task.description:<12}"),
                _Seconds(),
                console=self.console,
                # The pipeline's own output is redirected to the log file, not through rich.
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def started(self, step: Step) -> None:
        if self.progress is not None:
            self._tasks[step.name] = self.progress.add_task(step.name, total=1, mark=" ")

    def finished(self, step: Step) -> None:
        mark = "[green]✓[/green]" if step.succeeded else "[red]✗[/red]"
        if self.progress is not None:
            self.progress.update(self._tasks[step.name], completed=1, mark=mark)
            return
        status = "succeeded" if step.succeeded else "failed"
        self.console.print(f"{mark} {step.name:<12} {status:<9} {step.seconds or 0:.1f}s")


class _ExecutorOutput(io.TextIOBase):
    """Where kfp.local's output goes: all of it to the log file; its task lines to the display."""

    def __init__(self, log: io.TextIOBase, display: StepDisplay) -> None:
        self.log = log
        self.display = display
        self.steps: list[Step] = []
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.log.write(text)
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._line(_ANSI.sub("", line))
        return len(text)

    def flush(self) -> None:
        self.log.flush()

    def _line(self, line: str) -> None:
        if started := _STARTED.search(line):
            self.steps.append(Step(started["name"]))
            self.display.started(self.steps[-1])
        elif (finished := _FINISHED.search(line)) and self.steps and self.steps[-1].name == finished["name"]:
            step = self.steps[-1]
            step.seconds = time.monotonic() - step.started
            step.succeeded = finished["status"] == "SUCCESS"
            self.display.finished(step)
        elif self.steps and self.steps[-1].succeeded is None:
            self.steps[-1].output.append(line)


@contextlib.contextmanager
def _captured(log: Path, display: StepDisplay) -> Iterator[_ExecutorOutput]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as handle:
        output = _ExecutorOutput(handle, display)
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            yield output


def run_pipeline(
    pipeline: Callable[..., Any], arguments: dict[str, Any], pipeline_root: Path, log: Path, console: Console
) -> Outcome:
    """Run `pipeline` with kfp.local, one subprocess per component, with this environment's
    packages (offline); what it prints goes to `log`."""
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root))
    started = time.monotonic()
    error: str | None = None
    with StepDisplay(console) as display, _captured(log, display) as output:
        try:
            pipeline(**arguments)
        except RuntimeError as failure:  # kfp.local: "Pipeline ... finished with status FAILURE ..."
            error = _ANSI.sub("", str(failure))
    outcome = Outcome(error is None, output.steps, time.monotonic() - started, None)
    if error is None:
        return outcome
    step = outcome.failed_step
    reason = (failure_reason(step.output) if step else None) or error
    return Outcome(False, output.steps, outcome.seconds, reason)
