"""`mlpatterns-pipelines`: compile the pipelines, run them on this machine, submit and schedule
them on Kubeflow Pipelines, or run the training loop in one process (the batch-training CronJob).

    mlpatterns-pipelines compile [--check]
    mlpatterns-pipelines run-local batch-training --param algorithm=random_forest \
        --param 'hyperparameters={"max_depth": 3}'
    mlpatterns-pipelines submit pipeline-training --host https://kfp.example.com --param train_gpus=1
    mlpatterns-pipelines schedule batch-training --host https://kfp.example.com --cron "0 0 2 * * *"
    mlpatterns-pipelines train --param tracking_uri=http://mlflow:5000
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

# In the source tree the compiled pipelines live in pipelines/compiled; installed elsewhere
# (the training image), `compile` writes to ./compiled unless told otherwise.
_SOURCE_COMPILED = Path(__file__).resolve().parents[2] / "compiled"
COMPILED = _SOURCE_COMPILED if _SOURCE_COMPILED.is_dir() else Path("compiled")


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """key=value pairs; values are JSON when they parse (numbers, objects), else strings."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--param {pair!r}: expected key=value")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


# What each KFP parameter type accepts from the command line (JSON-decoded).
_ACCEPTS: dict[str, tuple[type, ...]] = {
    "Integer": (int,),
    "Float": (int, float),
    "Boolean": (bool,),
    "Dict": (dict,),
    "List": (list,),
}


def pipeline_arguments(pipeline: Any, pairs: Sequence[str]) -> dict[str, Any]:
    """--param pairs checked against the pipeline's inputs and given their declared types, so
    `train_cpu=2` stays the string "2", `seed=7` is the integer 7 and `seed=abc` is refused."""
    inputs = pipeline.component_spec.inputs or {}
    arguments = {}
    for key, value in parse_params(pairs).items():
        if key not in inputs:
            raise SystemExit(f"--param {key}: {pipeline.name} has no such parameter; it takes {', '.join(inputs)}")
        declared = str(inputs[key].type)
        if declared == "String":
            value = value if isinstance(value, str) else json.dumps(value)
        elif not isinstance(value, _ACCEPTS.get(declared, (object,))) or (
            declared in ("Integer", "Float") and isinstance(value, bool)
        ):
            raise SystemExit(f"--param {key}={json.dumps(value)}: {pipeline.name} wants {declared.lower()} here")
        elif declared == "Float":
            value = float(value)  # type: ignore[arg-type]  # an int or float by the check above
        arguments[key] = value
    return arguments


def compile_all(output_dir: Path) -> dict[str, Path]:
    from kfp import compiler

    from mlpatterns_pipelines.pipelines import PIPELINES

    output_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, pipeline in PIPELINES.items():
        path = output_dir / f"{name}.yaml"
        compiler.Compiler().compile(pipeline, str(path))
        written[name] = path
    return written


def _compile(args: argparse.Namespace) -> int:
    if not args.check:
        for name, path in compile_all(Path(args.output_dir)).items():
            print(f"compiled {name} -> {path}")
        return 0
    import tempfile

    stale = []
    with tempfile.TemporaryDirectory() as fresh:
        for name, path in compile_all(Path(fresh)).items():
            committed = Path(args.output_dir) / path.name
            if not committed.is_file() or committed.read_text() != path.read_text():
                stale.append(name)
    for name in stale:
        print(f"out of date: {Path(args.output_dir) / name}.yaml (run mlpatterns-pipelines compile)")
    return 1 if stale else 0


def _pipeline(name: str) -> Any:
    from mlpatterns_pipelines.pipelines import PIPELINES

    if name not in PIPELINES:
        raise SystemExit(f"no pipeline {name!r}; there are {', '.join(PIPELINES)}")
    return PIPELINES[name]


def _run_local(args: argparse.Namespace) -> int:
    from kfp import local

    pipeline = _pipeline(args.pipeline)
    params = {"tracking_uri": args.tracking_uri or _default_tracking_uri(), **pipeline_arguments(pipeline, args.param)}
    # Components run as subprocesses of this Python, with this environment's packages: offline.
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=args.pipeline_root)
    try:
        pipeline(**params)
    except RuntimeError as error:
        print(f"mlpatterns-pipelines: {args.pipeline} failed: {error}", file=sys.stderr)
        return 1
    print(f"mlpatterns-pipelines: {args.pipeline} succeeded; MLflow at {params['tracking_uri']}")
    return 0


def _default_tracking_uri() -> str:
    store = Path.cwd() / ".mlpatterns"
    store.mkdir(exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


def _client(args: argparse.Namespace) -> Any:
    import kfp

    return kfp.Client(host=args.host, namespace=args.namespace)


def _package(pipeline: Any, folder: str) -> str:
    """The pipeline compiled from this code, so what runs is what this version defines."""
    from kfp import compiler

    path = Path(folder) / f"{pipeline.name}.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    return str(path)


def _submit(args: argparse.Namespace) -> int:
    import tempfile

    pipeline = _pipeline(args.pipeline)
    arguments = pipeline_arguments(pipeline, args.param)
    client = _client(args)
    with tempfile.TemporaryDirectory() as folder:
        run = client.create_run_from_pipeline_package(
            _package(pipeline, folder),
            arguments=arguments,
            experiment_name=args.experiment,
            pipeline_root=args.pipeline_root,
        )
    print(f"submitted {args.pipeline}: run {run.run_id}")
    return 0


def check_cron(expression: str) -> str:
    """KFP's cron has six fields, seconds first ("0 0 2 * * *" is 02:00 every day)."""
    if len(expression.split()) != 6:
        raise SystemExit(f"--cron {expression!r}: Kubeflow Pipelines wants 6 fields, seconds first, e.g. '0 0 2 * * *'")
    return expression


def _schedule(args: argparse.Namespace) -> int:
    import tempfile

    pipeline = _pipeline(args.pipeline)
    arguments = pipeline_arguments(pipeline, args.param)
    cron = check_cron(args.cron)
    client = _client(args)
    experiment = client.create_experiment(args.experiment, namespace=args.namespace)
    with tempfile.TemporaryDirectory() as folder:
        job = client.create_recurring_run(
            experiment_id=experiment.experiment_id,
            job_name=args.name or f"{args.pipeline}-schedule",
            cron_expression=cron,
            max_concurrency=1,  # never two trainings of the same model at once
            no_catchup=True,  # after a pause, run once, not once per missed slot
            pipeline_package_path=_package(pipeline, folder),
            params=arguments,
        )
    print(f"scheduled {args.pipeline} ({args.cron}): recurring run {job.recurring_run_id}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from mlpatterns_pipelines.steps.batch import TrainingRun, run
    from mlpatterns_pipelines.steps.validation import ValidationFailed

    params = parse_params(args.param)
    known = {f.name for f in fields(TrainingRun)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise SystemExit(f"unknown parameters {', '.join(unknown)}; they are {', '.join(sorted(known))}")
    try:
        decision = run(TrainingRun(**params))
    except (ValidationFailed, ValueError) as error:
        print(f"mlpatterns-pipelines: training refused: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # unreachable data or registry, missing credentials: say which
        print(f"mlpatterns-pipelines: training failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(decision.as_dict()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlpatterns-pipelines", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compile_command = commands.add_parser("compile", help="write pipelines/compiled/<name>.yaml")
    compile_command.add_argument("--output-dir", default=str(COMPILED))
    compile_command.add_argument("--check", action="store_true", help="fail if the committed YAML is stale")

    def with_params(command: argparse.ArgumentParser) -> None:
        command.add_argument("pipeline", help="batch-training or pipeline-training")
        command.add_argument("--param", action="append", default=[], help="a pipeline parameter, key=value")

    local_command = commands.add_parser("run-local", help="run a pipeline here with kfp.local")
    with_params(local_command)
    local_command.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite in .mlpatterns/)")
    local_command.add_argument("--pipeline-root", default="./.mlpatterns/pipeline-root")

    for verb, description in (("submit", "run once on Kubeflow Pipelines"), ("schedule", "run on a schedule")):
        command = commands.add_parser(verb, help=description)
        with_params(command)
        command.add_argument("--host", required=True, help="the Kubeflow Pipelines API endpoint")
        command.add_argument("--namespace", default=None)
        command.add_argument("--experiment", default="mlpatterns")
        if verb == "submit":
            command.add_argument("--pipeline-root", default=None, help="object storage for artifacts, e.g. s3://...")
        else:
            command.add_argument("--cron", required=True, help="six fields, seconds first: '0 0 2 * * *'")
            command.add_argument("--name", default=None)

    train_command = commands.add_parser("train", help="the whole loop in this process (the batch-training job)")
    train_command.add_argument("--param", action="append", default=[], help="a parameter, key=value")

    args = parser.parse_args(argv)
    handlers = {"compile": _compile, "run-local": _run_local, "submit": _submit, "schedule": _schedule,
                "train": _train}  # fmt: skip
    import urllib3

    try:
        return int(handlers[args.command](args))
    except (OSError, urllib3.exceptions.HTTPError) as error:
        print(f"mlpatterns-pipelines: cannot reach {getattr(args, 'host', 'the service')}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
