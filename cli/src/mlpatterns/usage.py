"""The `mlpatterns` command line: every subcommand, its options and its examples, with the habits of
helm and kubectl users: `--version`, `-n/--namespace`, a positional release name where helm has
one, repeatable `-f` and `--set`, each option's default in `--help`, "did you mean" for a misspelt
subcommand, option or choice, and one line with exit status 2 for a user's mistake.

Imports nothing heavy: `--help`, `version` and shell completion answer at once."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from mlpatterns.catalogue import PATTERNS

RELEASE = "demo"
NAMESPACE = "mlpatterns"
PROG = "mlpatterns"


def nearest(word: str, choices: Iterable[str]) -> str:
    """'; did you mean X?' for the closest choice, or ''."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {found[0]}?" if found else ""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Each option's help says its default and whether it may be given again, as helm's does."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=34, width=min(100, _columns()))

    def _split_lines(self, text: str, width: int) -> list[str]:
        # Names and paths (mlpatterns-report.png, shadow-ab) stay whole: no breaks at hyphens.
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if isinstance(action, argparse._AppendAction):
            text += " (repeatable)"
        default = action.default
        shown = default not in (None, False, [], argparse.SUPPRESS) and not isinstance(action, argparse._HelpAction)
        if action.option_strings and shown and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def _columns() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


class Parser(argparse.ArgumentParser):
    """argparse, with a user's mistake said in one line (and what was meant, when it is near)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is None or value in choices:
            return
        names = [str(choice) for choice in choices]
        if isinstance(action, argparse._SubParsersAction):
            raise argparse.ArgumentError(None, f"unknown command '{value}'{nearest(str(value), names)}")
        raise argparse.ArgumentError(action, f"'{value}' is not one of {', '.join(names)}{nearest(str(value), names)}")

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            command = _COMMANDS.get(_command_path(parsed), self)
            options = [option for action in command._actions for option in action.option_strings]
            word = extra[0]
            if word.startswith("-"):
                command.error(f"unknown option {word}{nearest(word.split('=', 1)[0], options)}")
            command.error(f"unexpected argument '{word}'")
        return parsed


# Each subcommand's parser by its words ("render", "charts sync"): where to look up the options of
# the one that was given, and what shell completion offers.
_COMMANDS: dict[str, Parser] = {}


def _command_path(parsed: argparse.Namespace) -> str:
    words = [getattr(parsed, "command", None), getattr(parsed, "charts_command", None),
             getattr(parsed, "crds_command", None)]  # fmt: skip
    return " ".join(word for word in words if word)


def _wrapped(text: str) -> str:
    import textwrap

    return textwrap.fill(text, min(100, _columns()), break_on_hyphens=False)


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _command(commands: argparse._SubParsersAction[Parser], name: str, summary: str, description: str,
             examples: Sequence[str], parent: str = "") -> Parser:  # fmt: skip
    command: Parser = commands.add_parser(
        name, help=summary, description=_wrapped(description), epilog=_examples(*examples), formatter_class=_Formatter
    )
    _COMMANDS[f"{parent} {name}".strip()] = command
    return command


def _values(command: Parser) -> None:
    command.add_argument("-f", "--values", action="append", type=Path, default=[], metavar="FILE",
                         help="a values file, as helm's -f; later files win")  # fmt: skip
    command.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="a value in helm's --set syntax (a.b=c, list[0].key=v, several by commas); "
                              "wins over -f")  # fmt: skip


def _release(command: Parser, positional: bool) -> None:
    if positional:
        command.usage = f"{command.prog} [RELEASE] CHART [options]"
        command.add_argument("names", nargs="+", metavar="[RELEASE] CHART",
                             help="a release name (as in helm install NAME CHART), then a pattern name or a chart "
                                  "directory; with the chart alone the release is --release")  # fmt: skip
    command.add_argument("--release", default=None, metavar="NAME",
                         help=f"the release name the chart renders with (default: {RELEASE})")  # fmt: skip
    command.add_argument("-n", "--namespace", default=NAMESPACE, help="the namespace the chart renders into")


def _prometheus(command: Parser) -> None:
    command.add_argument("--prometheus", default=None, metavar="URL",
                         help="Prometheus' URL (default: the one each `mlpatterns up` runs)")  # fmt: skip
    command.add_argument("-n", "--namespace", default=".*",
                         help="only this namespace's series (a regular expression)")  # fmt: skip


def parser() -> Parser:
    root = Parser(
        prog=PROG, formatter_class=_Formatter,
        description=_wrapped("The ML design patterns kit: each pattern a Helm chart for KServe and Istio, run here "
                             "with `mlpatterns up`, watched with `load`, `watch` and `report`."),
        epilog=_examples("mlpatterns patterns",
                         "mlpatterns up shadow-ab --set shadow.model.uri=models:/iris@challenger",
                         "mlpatterns render synchronous --set model.uri=s3://models/iris/v3 | kubectl apply -f -"),
    )  # fmt: skip
    root.add_argument("--version", action="store_true", help="print the kit's version and what it targets, and exit")
    commands = root.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser, help="one of:")

    _command(commands, "patterns", "list the patterns: kind, use case, chart and docs page",
             "List the catalogue's patterns: their kind, use case, and whether a chart and a docs page exist.",
             ["mlpatterns patterns", "mlpatterns patterns | grep qa"])  # fmt: skip

    render = _command(
        commands, "render", "print a chart's manifests, as helm template does",
        "Print the objects a pattern's chart applies, as `helm template` does: no cluster needed. The chart is a "
        "pattern's name (`mlpatterns patterns`) or a chart directory.",
        ["mlpatterns render synchronous --set model.uri=s3://models/iris/v3",
         "mlpatterns render my-shadow shadow-ab -n models -f my-values.yaml",
         "mlpatterns render online-ab --set variants[1].weight=20 | kubectl apply --dry-run=server -f -"],
    )  # fmt: skip
    _release(render, positional=True)
    _values(render)

    validate = _command(
        commands, "validate", "lint a chart and validate what it renders, or a folder of manifests",
        "Helm's lint, then every rendered object against strict schemas (core kinds of Kubernetes 1.30 and the "
        "upstream CRDs, shipped with the CLI: an unknown field is an error), then a checkov scan. Exit 0 clean, 1 "
        "problems found, 2 bad input. No positional release: helm lint takes none, and a folder of manifests has "
        "no release; --release names one for a chart.",
        ["mlpatterns validate web-single",
         "mlpatterns validate model-load -f charts/model-load/ci/01-minio-values.yaml",
         "mlpatterns validate path/to/manifests/ --no-checkov"],
    )  # fmt: skip
    validate.add_argument("target", metavar="CHART|DIR", help="a pattern name, a chart directory, or a folder of YAML")
    _release(validate, positional=False)
    _values(validate)
    validate.add_argument("--no-checkov", action="store_true", help="skip the checkov scan")

    up = _command(
        commands, "up", "run a chart on this machine behind a gateway that routes as it says",
        "Render the chart as `helm install` would and run it here: each model as a server process, Redis and the "
        "kit's helpers beside them, a gateway that mirrors, splits and matches as the chart's VirtualService, "
        "HTTPRoute or InferenceGraph says, and Prometheus scraping it all (when installed). One line per process "
        "as it becomes ready; runs until Ctrl-C or `mlpatterns down` (--detach: in the background).",
        ["mlpatterns up synchronous --set model.uri=models:/iris@champion",
         "mlpatterns up shadow-ab --set shadow.model.uri=models:/iris@challenger --detach",
         "mlpatterns up my-canary online-ab -f canary.yaml --port 9090"],
    )  # fmt: skip
    _release(up, positional=True)
    _values(up)
    up.add_argument("--port", type=int, default=8080, help="the gateway's port")
    up.add_argument("-d", "--detach", action="store_true",
                    help="start in the background and return once everything is ready; "
                         "`mlpatterns down` stops it")  # fmt: skip
    up.add_argument("--baked-model", type=Path, default=None, metavar="DIR", help="model-in-image: the model's folder")
    up.add_argument("--scrape-interval", type=float, default=5.0, metavar="SECONDS",
                    help="Prometheus' scrape interval")  # fmt: skip
    up.add_argument("--no-prometheus", action="store_true", help="do not start Prometheus even when installed")

    down = _command(commands, "down", "stop what `mlpatterns up` started",
                    "Stop every `mlpatterns up` (or the one on --port) and every process it started.",
                    ["mlpatterns down", "mlpatterns down --port 9090"])  # fmt: skip
    down.add_argument("--port", type=int, default=None, help="only the one on this port (default: every one)")

    load = _command(
        commands, "load", "send open-loop traffic to a running pattern or a URL",
        "Send requests on a fixed schedule (open loop: they leave whether or not earlier ones were answered), each "
        "one row of a real dataset (or --data) and a simulated user's id; at the end, what was sent, what "
        "answered, and client-side latency (measured here, from each request's scheduled send to its answer: "
        "network and queueing included, so it is at least the server's own histogram).",
        ["mlpatterns load shadow-ab --rps 50 --duration 30 --users 100",
         "mlpatterns load online-ab -H 'x-mlpatterns-variant: canary' --rps 5",
         "mlpatterns load http://localhost:8080 --model iris --data rows.csv --json"],
    )  # fmt: skip
    load.add_argument("target", metavar="PATTERN|URL", help="a pattern running under `mlpatterns up`, or a URL")
    load.add_argument("--rps", type=_positive, default=20.0, help="requests per second")
    load.add_argument("--duration", type=_positive, default=30.0, metavar="SECONDS", help="how long to send")
    load.add_argument("--users", type=_users, default=0, help="simulated users, each with its own user-id header")
    load.add_argument("--user-header", default="x-user-id", metavar="NAME", help="the user-id header")
    load.add_argument("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'",
                      help="an extra header on every request")  # fmt: skip
    load.add_argument("--model", default=None, help="the model's name (default: the pattern's, else iris)")
    load.add_argument("--data", type=Path, default=None, metavar="FILE",
                      help="rows to send: CSV with a header, or JSON lines "
                           "(default: the model's bundled dataset)")  # fmt: skip
    load.add_argument("--seed", type=int, default=0, help="the order rows are sent in")
    load.add_argument("--json", action="store_true", help="print the summary as JSON")

    watch = _command(
        commands, "watch", "a live view of traffic, variants, errors, latency, cache and shadow",
        "A live view, refreshed every 2 s, of what each running pattern's Prometheus sees, on the dashboards' own "
        "queries: requests, share, errors and server-side latency by model, version and role, and what the pattern "
        "is about (cache hits and failures, shadow agreement, the async queue). Without Prometheus it reads the "
        "processes' /metrics.",
        ["mlpatterns watch", "mlpatterns watch --once --window 2m",
         "mlpatterns watch --prometheus http://prometheus.monitoring:9090 -n models"],
    )  # fmt: skip
    watch.add_argument("--once", action="store_true", help="print one snapshot and exit")
    watch.add_argument("--window", default="1m", help="the window rates are computed over (PromQL duration)")
    _prometheus(watch)

    report = _command(
        commands, "report", "a PNG of a run: the panels of the pattern that ran",
        "Draw the panels a user would look at in Grafana for each running pattern (its dashboards' own queries, "
        "over a past window) into one PNG; a panel with no data is left out and said so.",
        ["mlpatterns report", "mlpatterns report -o run.png --minutes 5"],
    )  # fmt: skip
    report.add_argument("-o", "--output", type=Path, default=Path("mlpatterns-report.png"), metavar="FILE",
                        help="the PNG to write")  # fmt: skip
    report.add_argument("--minutes", type=_positive, default=10.0, help="how far back")
    _prometheus(report)

    charts = _command(commands, "charts", "maintain the charts' generated files",
                      "Maintain what `mlpatterns` generates in charts/: values schemas, README tables, library "
                      "copies, dashboards and alert templates.",
                      ["mlpatterns charts sync", "mlpatterns charts sync --check"])  # fmt: skip
    charts_commands = charts.add_subparsers(dest="charts_command", metavar="COMMAND", required=True,
                                            parser_class=Parser, help="one of:")  # fmt: skip
    charts_sync = _command(charts_commands, "sync", "regenerate schemas, README tables, library copies",
                           "Regenerate the charts' generated files from the kit's tables.",
                           ["mlpatterns charts sync", "mlpatterns charts sync --check   # in CI: exit 1 when stale"],
                           parent="charts")  # fmt: skip
    charts_sync.add_argument("--check", action="store_true", help="only report what is out of date (exit 1 if any)")

    crds = _command(commands, "crds", "maintain the CRD schemas custom resources are validated against",
                    "Maintain the CRD schemas the CLI ships and validates custom resources against.",
                    ["mlpatterns crds sync --from ../shared/crds", "mlpatterns crds sync --check"])  # fmt: skip
    crds_commands = crds.add_subparsers(dest="crds_command", metavar="COMMAND", required=True, parser_class=Parser,
                                        help="one of:")  # fmt: skip
    crds_sync = _command(crds_commands, "sync", "derive the packaged schemas from a folder of upstream CRDs",
                         "Derive the packaged JSON schemas from a folder of upstream CustomResourceDefinitions.",
                         ["mlpatterns crds sync --from ../shared/crds", "mlpatterns crds sync --check"],
                         parent="crds")  # fmt: skip
    crds_sync.add_argument("--from", dest="source", type=Path, default=None, metavar="DIR",
                           help="the upstream CRD folder (default: MLPATTERNS_CRDS_DIR, else a shared/crds beside "
                                "the repository)")  # fmt: skip
    crds_sync.add_argument("--check", action="store_true", help="only report what is out of date (exit 1 if any)")

    version = _command(commands, "version", "print the kit's version and the versions it targets",
                       "Print the kit's version and the releases of Kubernetes, Helm, KServe, Istio, Gateway API, "
                       "KEDA and Kubeflow Pipelines its charts target.",
                       ["mlpatterns version", "mlpatterns version -o json"])  # fmt: skip
    version.add_argument("-o", "--output", choices=("text", "json"), default="text", help="the format")

    completion = _command(
        commands, "completion", "print a shell completion script (bash or zsh)",
        "Print a completion script for subcommands, options, pattern names and --set value paths.",
        ["source <(mlpatterns completion bash)   # in ~/.bashrc",
         "mlpatterns completion zsh > \"${fpath[1]}/_mlpatterns\"   # zsh, then restart it"],
    )  # fmt: skip
    completion.add_argument("shell", choices=("bash", "zsh"), help="the shell")
    return root


_N = TypeVar("_N", int, float)


def _number(parse: Callable[[str], _N], kind: str, accepts: Callable[[_N], bool], rule: str) -> Callable[[str], _N]:
    """An argparse type: `text` as a number of `kind`, refused with `rule` unless `accepts` it."""

    def convert(text: str) -> _N:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not {kind}") from None
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    return convert


_positive = _number(float, "a number", lambda value: value > 0, "above 0")
_users = _number(int, "a whole number", lambda value: value >= 0, "0 (no user header) or more")


def commands() -> dict[str, Parser]:
    """Each subcommand's parser by its words, once parser() has built them."""
    if not _COMMANDS:
        parser()
    return dict(_COMMANDS)


def pattern_names() -> list[str]:
    return [pattern.name for pattern in PATTERNS]


def chart_names() -> list[str]:
    return [pattern.name for pattern in PATTERNS if pattern.has_chart]


def release_and_chart(command: Parser, names: Sequence[str], release: str | None) -> tuple[str, str]:
    """helm's `NAME CHART` or `CHART`: the release and the chart, or one line and exit 2."""
    if len(names) > 2:
        command.error(f"give [RELEASE] CHART, not {len(names)} names: {' '.join(names)}")
    if len(names) == 2:
        if release is not None and release != names[0]:
            command.error(f"two release names: '{names[0]}' and --release {release}")
        return names[0], names[1]
    return release or RELEASE, names[0]
