"""`mlpatterns`: list the patterns, render a pattern's chart, validate charts or manifests.

mlpatterns patterns
mlpatterns render web-single -f my-values.yaml --set model.uri=s3://models/iris
mlpatterns validate web-single            # lint, render, schemas, checkov
mlpatterns validate path/to/manifests/     # any folder of YAML
mlpatterns charts sync [--check]           # regenerate schemas, README tables, library copies
mlpatterns crds sync [--from DIR] [--check]  # regenerate the packaged CRD schemas from upstream CRDs
mlpatterns up shadow-ab --set primary.model.uri=models:/iris@champion ...   # the chart as local processes
mlpatterns down [--port N]                  # stop what up started
mlpatterns load shadow-ab --rps 50 --duration 30 --users 100   # open-loop traffic, summary at the end
mlpatterns watch [--once]                   # a live view of what Prometheus sees
mlpatterns report [-o report.png]           # the run's panels as a PNG
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from mlpatterns.catalogue import PATTERNS, Pattern, find
from mlpatterns.charts.rendering import ChartError, lint, render, to_yaml, user_values
from mlpatterns.charts.sync import sync
from mlpatterns.paths import REPOSITORY, charts_dir, crds_dir, upstream_crds_dir
from mlpatterns.validation import Problem
from mlpatterns.validation.checkov import CheckovFailed, CheckovUnavailable, scan
from mlpatterns.validation.crd_sync import UpstreamError
from mlpatterns.validation.crd_sync import sync as crds_sync
from mlpatterns.validation.crds import MissingCrds
from mlpatterns.validation.manifests import validate_documents

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlpatterns", description="The ML design patterns kit.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("patterns", help="list the patterns, their use case and whether a chart exists")

    def values_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("-f", "--values", action="append", type=Path, default=[], help="a values file")
        command.add_argument("--set", action="append", default=[], help="a value, as key=value (Helm syntax)")

    render_command = commands.add_parser("render", help="print a pattern's manifests, like helm template")
    render_command.add_argument("pattern", help="a pattern name or a chart directory")
    values_options(render_command)
    render_command.add_argument("--release", default="demo")
    render_command.add_argument("--namespace", default="mlpatterns")

    validate = commands.add_parser("validate", help="lint and validate a pattern's chart, or a folder of manifests")
    validate.add_argument("target", help="a pattern name, a chart directory, or a directory of YAML manifests")
    values_options(validate)
    validate.add_argument("--no-checkov", action="store_true", help="skip the checkov scan")

    up = commands.add_parser(
        "up", help="run a pattern's chart on this machine, behind a gateway that routes as it says"
    )
    up.add_argument("pattern", help="a pattern name or a chart directory")
    values_options(up)
    up.add_argument("--port", type=int, default=8080, help="the gateway's port (default 8080)")
    up.add_argument("--baked-model", type=Path, default=None, help="model-in-image: the folder of the model")
    up.add_argument("--scrape-interval", type=float, default=5.0, help="Prometheus' scrape interval, seconds")
    up.add_argument("--no-prometheus", action="store_true", help="do not start Prometheus even when installed")
    down = commands.add_parser("down", help="stop what `mlpatterns up` started")
    down.add_argument("--port", type=int, default=None, help="only the one on this port")

    load = commands.add_parser("load", help="send open-loop traffic to a running pattern or a URL")
    load.add_argument("target", help="a pattern running under `mlpatterns up`, or a URL")
    load.add_argument("--rps", type=_positive, default=20.0, help="requests per second (default 20)")
    load.add_argument("--duration", type=_positive, default=30.0, help="seconds (default 30)")
    load.add_argument("--users", type=_users, default=0, help="simulated users, each with its own user-id header")
    load.add_argument("--user-header", default="x-user-id", help="the user-id header (default x-user-id)")
    load.add_argument("-H", "--header", action="append", default=[], help="an extra header, as name: value")
    load.add_argument("--model", default=None, help="the model's name (default: the pattern's, else iris)")
    load.add_argument("--data", type=Path, default=None, help="rows to send: CSV with a header, or JSON lines")
    load.add_argument("--seed", type=int, default=0, help="the order rows are sent in")
    load.add_argument("--json", action="store_true", help="print the summary as JSON")

    watch = commands.add_parser("watch", help="a live view of traffic, variants, errors, latency, cache, shadow")
    watch.add_argument("--once", action="store_true", help="print one snapshot and exit")
    watch.add_argument("--prometheus", default=None, help="Prometheus' URL (default: the one `mlpatterns up` runs)")
    watch.add_argument("--window", default="1m", help="the window rates are computed over (default 1m)")
    watch.add_argument("--namespace", default=".*", help="a namespace (regular expression)")

    report = commands.add_parser("report", help="a PNG of a run: traffic share, latency and agreement over time")
    report.add_argument("-o", "--output", type=Path, default=Path("mlpatterns-report.png"))
    report.add_argument("--prometheus", default=None, help="Prometheus' URL (default: the one `mlpatterns up` runs)")
    report.add_argument("--minutes", type=_positive, default=10.0, help="how far back (default 10)")
    report.add_argument("--namespace", default=".*", help="a namespace (regular expression)")

    charts = commands.add_parser("charts", help="maintain the charts' generated files")
    charts_commands = charts.add_subparsers(dest="charts_command", required=True)
    sync_command = charts_commands.add_parser("sync", help="regenerate schemas, README tables, library copies")
    sync_command.add_argument("--check", action="store_true", help="only report what is out of date")

    crds = commands.add_parser("crds", help="maintain the CRD schemas the CLI validates custom resources against")
    crds_commands = crds.add_subparsers(dest="crds_command", required=True)
    crds_sync = crds_commands.add_parser("sync", help="derive the packaged schemas from a folder of upstream CRDs")
    crds_sync.add_argument("--from", dest="source", type=Path, default=None, help="the upstream CRD folder")
    crds_sync.add_argument("--check", action="store_true", help="only report what is out of date")
    return parser


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _users(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no user header) or more, got {text}")
    return value


def _load(args: argparse.Namespace) -> int:
    from mlpatterns.traffic.command import load
    from mlpatterns.traffic.load import Plan

    headers = {}
    for header in args.header:
        name, colon, value = header.partition(":")
        if not colon or not name.strip():
            err.print(f"mlpatterns load: --header {header!r} is not name: value")
            return 2
        headers[name.strip()] = value.strip()
    plan = Plan(args.rps, args.duration, args.users, args.user_header, headers)
    summary = load(args.target, plan, out, args.model, args.data, args.seed, args.json)
    return 1 if summary is None or summary["ok"] == 0 else 0


def _observe(args: argparse.Namespace) -> int:
    from mlpatterns.observe import command

    if args.command == "watch":
        return command.watch(args.prometheus, args.window, args.namespace, args.once, out)
    return command.report(args.prometheus, args.output, args.minutes, args.namespace, out)


def _chart(target: str) -> Path | None:
    path = Path(target)
    if (path / "Chart.yaml").is_file():
        return path
    named = charts_dir() / target
    return named if (named / "Chart.yaml").is_file() else None


def _docs_page(pattern: Pattern) -> str:
    return str(pattern.docs.relative_to(REPOSITORY)) if pattern.docs else "planned"


def _patterns() -> int:
    table = Table("pattern", "kind", "chart", "docs", "use case")
    table.columns[0].no_wrap = table.columns[3].no_wrap = True
    for pattern in PATTERNS:
        table.add_row(
            pattern.name, pattern.kind, "yes" if pattern.has_chart else "—", _docs_page(pattern), pattern.use_case
        )
    # Piped output is read whole, not on an 80-column screen: do not cut names and paths.
    (out if out.is_terminal else Console(width=160, highlight=False)).print(table)
    return 0


def _no_chart(target: str) -> int:
    pattern = find(target)
    if pattern is None:
        err.print(f"mlpatterns: no pattern or chart '{target}'; `mlpatterns patterns` lists them")
    else:  # every serving pattern has a chart; pipeline training is a pipeline
        err.print(f"mlpatterns: {target} runs on Kubeflow Pipelines, not from a chart: see {_docs_page(pattern)}")
    return 2


def _up(args: argparse.Namespace, values: dict[str, Any]) -> int:
    from mlpatterns.local.up import up

    chart = _chart(args.pattern)
    if chart is None:
        return _no_chart(args.pattern)
    return up(chart, values, args.port, out, args.baked_model, args.scrape_interval, not args.no_prometheus)


def _render(target: str, values: dict[str, Any], release: str, namespace: str) -> int:
    chart = _chart(target)
    if chart is None:
        return _no_chart(target)
    out.print(to_yaml(render(chart, values, release, namespace)), end="")
    return 0


def _documents_in(folder: Path) -> tuple[list[tuple[str, Any]], list[Problem]]:
    """The objects in every YAML file below `folder`, and the files that are not YAML at all."""
    documents, unreadable = [], []
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        try:
            loaded = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark else "(file)"
            unreadable.append(Problem(str(path), "?", where, f"not valid YAML: {getattr(error, 'problem', error)}"))
            continue
        documents += [(str(path), d) for d in loaded if not (isinstance(d, dict) and d.get("kind") == "Kustomization")]
    return documents, unreadable


def _validate(target: str, values: dict[str, Any], checkov: bool) -> int:
    chart = _chart(target)
    problems: list[Problem] = []
    if chart is not None:
        problems += [Problem(str(chart), "Chart", "lint", finding) for finding in lint(chart, values)]
        documents = [(m.template, m.document) for m in render(chart, values)]
    elif Path(target).is_dir():
        documents, problems = _documents_in(Path(target))
    else:
        return _no_chart(target)
    problems += validate_documents(documents, crds_dir())
    skipped = 0
    if checkov:
        found, skipped = scan([(source, d) for source, d in documents if isinstance(d, dict)])
        problems += found
    for problem in problems:
        out.print(f"[red]✗[/red] {problem}")
    summary = f"{len(documents)} objects, {len(problems)} problems"
    if checkov:
        summary += f", {skipped} checkov checks skipped by annotations in the chart"
    out.print(("[green]✓[/green] " if not problems else "[red]✗[/red] ") + summary)
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "patterns":
            return _patterns()
        if args.command in ("charts", "crds"):
            drift = (
                sync(check=args.check)
                if args.command == "charts"
                else crds_sync(args.source or upstream_crds_dir(), check=args.check)
            )
            for line in drift:
                out.print(("out of date: " if args.check else "updated: ") + line)
            return 1 if drift and args.check else 0
        if args.command == "down":
            from mlpatterns.local.supervisor import down

            return down(args.port, out)
        if args.command == "load":
            return _load(args)
        if args.command in ("watch", "report"):
            return _observe(args)
        values = user_values(args.values, args.set)
        if args.command == "up":
            return _up(args, values)
        if args.command == "render":
            return _render(args.pattern, values, args.release, args.namespace)
        return _validate(args.target, values, not args.no_checkov)
    except (ChartError, MissingCrds, UpstreamError, CheckovUnavailable, CheckovFailed) as error:
        err.print(f"mlpatterns: {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
