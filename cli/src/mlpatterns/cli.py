"""`mlpatterns`: the kit's developer CLI. The command line is usage.py; each subcommand here imports
what it needs when it runs, so `--help`, `version` and completion answer at once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from mlpatterns import usage
from mlpatterns.catalogue import Pattern, find
from mlpatterns.errors import UserError
from mlpatterns.paths import REPOSITORY, charts_dir

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _chart(target: str) -> Path | None:
    path = Path(target)
    if (path / "Chart.yaml").is_file():
        return path
    named = charts_dir() / target
    return named if (named / "Chart.yaml").is_file() else None


def _docs_page(pattern: Pattern) -> str:
    return str(pattern.docs.relative_to(REPOSITORY)) if pattern.docs else "planned"


def _no_chart(target: str) -> int:
    pattern = find(target)
    if pattern is None:
        names = [*usage.pattern_names(), *(p.name for p in charts_dir().glob("*/Chart.yaml"))]
        hint = usage.nearest(target, names) or "; `mlpatterns patterns` lists them"
        err.print(f"mlpatterns: no pattern or chart '{target}'{hint}")
    else:  # every serving pattern has a chart; pipeline training is a pipeline
        err.print(f"mlpatterns: {target} runs on Kubeflow Pipelines, not from a chart: see {_docs_page(pattern)}")
    return 2


def _release(args: argparse.Namespace) -> tuple[str, str]:
    """The release and the chart the user named ([RELEASE] CHART, or CHART and --release)."""
    command = usage.commands()[args.command]
    if hasattr(args, "names"):
        release, chart = usage.release_and_chart(command, args.names, args.release)
    else:
        release, chart = args.release or usage.RELEASE, args.target
    import helm_python

    try:
        helm_python.validate_release_name(release)
    except helm_python.HelmError:
        command.error(f"'{release}' is not a release name: lower-case letters, digits and '-', at most 53")
    return release, chart


def _values(args: argparse.Namespace) -> dict[str, Any]:
    from mlpatterns.charts.rendering import user_values

    return user_values(args.values, args.set)


def _patterns(args: argparse.Namespace) -> int:
    from rich.table import Table

    from mlpatterns.catalogue import PATTERNS

    table = Table("pattern", "kind", "chart", "docs", "use case")
    table.columns[0].no_wrap = table.columns[3].no_wrap = True
    for pattern in PATTERNS:
        table.add_row(
            pattern.name, pattern.kind, "yes" if pattern.has_chart else "—", _docs_page(pattern), pattern.use_case
        )
    # Piped output is read whole, not on an 80-column screen: do not cut names and paths.
    (out if out.is_terminal else Console(width=160, highlight=False)).print(table)
    return 0


def _render(args: argparse.Namespace) -> int:
    from mlpatterns.charts.rendering import render, to_yaml

    release, target = _release(args)
    chart = _chart(target)
    if chart is None:
        return _no_chart(target)
    out.print(to_yaml(render(chart, _values(args), release, args.namespace)), end="")
    return 0


def _documents_in(folder: Path) -> tuple[list[tuple[str, Any]], list[Any]]:
    """The objects in every YAML file below `folder`, and the files that are not YAML at all."""
    import yaml

    from mlpatterns.validation import Problem

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


def _validate(args: argparse.Namespace) -> int:
    from mlpatterns.charts.rendering import lint, render
    from mlpatterns.paths import crds_dir
    from mlpatterns.validation import Problem
    from mlpatterns.validation.checkov import scan
    from mlpatterns.validation.manifests import validate_documents

    release, target = _release(args)
    chart = _chart(target)
    problems: list[Problem] = []
    if chart is not None:
        values = _values(args)
        problems += [Problem(str(chart), "Chart", "lint", finding) for finding in lint(chart, values)]
        documents = [(m.template, m.document) for m in render(chart, values, release, args.namespace)]
    elif Path(target).is_dir():
        documents, problems = _documents_in(Path(target))
    else:
        return _no_chart(target)
    problems += validate_documents(documents, crds_dir())
    skipped = 0
    if not args.no_checkov:
        found, skipped = scan([(source, d) for source, d in documents if isinstance(d, dict)])
        problems += found
    for problem in problems:
        out.print(f"[red]✗[/red] {problem}")
    summary = f"{len(documents)} objects, {len(problems)} problems"
    if not args.no_checkov:
        summary += f", {skipped} checkov checks skipped by annotations in the chart"
    out.print(("[green]✓[/green] " if not problems else "[red]✗[/red] ") + summary)
    return 1 if problems else 0


def _up(args: argparse.Namespace) -> int:
    from mlpatterns.local.up import Request, detach, up

    release, target = _release(args)
    chart = _chart(target)
    if chart is None:
        return _no_chart(target)
    request = Request(chart, _values(args), release, args.namespace, args.port, args.baked_model,
                      args.scrape_interval, not args.no_prometheus)  # fmt: skip
    if args.detach:
        return detach(args.words, args.port, out)
    return up(request, out)


def _down(args: argparse.Namespace) -> int:
    from mlpatterns.local.supervisor import down

    return down(args.port, out)


def _load(args: argparse.Namespace) -> int:
    from mlpatterns.traffic.command import load
    from mlpatterns.traffic.load import Plan

    headers = {}
    for header in args.header:
        name, colon, value = header.partition(":")
        if not colon or not name.strip():
            usage.commands()["load"].error(f"--header '{header}' is not NAME: VALUE")
        headers[name.strip()] = value.strip()
    plan = Plan(args.rps, args.duration, args.users, args.user_header, headers)
    summary = load(args.target, plan, out, args.model, args.data, args.seed, args.json)
    return 1 if summary is None or summary["ok"] == 0 else 0


def _watch(args: argparse.Namespace) -> int:
    from mlpatterns.observe import command

    return command.watch(args.prometheus, args.window, args.namespace, args.once, out)


def _report(args: argparse.Namespace) -> int:
    from mlpatterns.observe import command

    return command.report(args.prometheus, args.output, args.minutes, args.namespace, out)


def _print_drift(drift: list[str], check: bool) -> int:
    for line in drift:
        out.print(("out of date: " if check else "updated: ") + line)
    return 1 if drift and check else 0


def _charts(args: argparse.Namespace) -> int:
    from mlpatterns.charts.sync import sync

    return _print_drift(sync(check=args.check), args.check)


def _crds(args: argparse.Namespace) -> int:
    from mlpatterns.paths import upstream_crds_dir
    from mlpatterns.validation.crd_sync import sync

    return _print_drift(sync(args.source or upstream_crds_dir(), check=args.check), args.check)


def _version(args: argparse.Namespace) -> int:
    from mlpatterns import targets

    print(targets.as_json() if getattr(args, "output", "text") == "json" else targets.as_text())
    return 0


def _completion(args: argparse.Namespace) -> int:
    from mlpatterns import completion

    print(completion.script(args.shell), end="")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "patterns": _patterns, "render": _render, "validate": _validate, "up": _up, "down": _down, "load": _load,
    "watch": _watch, "report": _report, "charts": _charts, "crds": _crds, "version": _version,
    "completion": _completion,
}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command line; its exit status (argparse's exits, --help's and a usage error's, too)."""
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 2
    except KeyboardInterrupt:
        return 130


def _run(words: list[str]) -> int:
    if words[:1] == ["__complete"]:  # the completion script asks what may come next
        from mlpatterns import completion

        return completion.answer(words[1:])
    parser = usage.parser()
    args = parser.parse_args(words)
    args.words = words
    if args.version:
        return _version(args)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return COMMANDS[args.command](args)
    except UserError as error:
        err.print(f"mlpatterns: {error}", markup=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
