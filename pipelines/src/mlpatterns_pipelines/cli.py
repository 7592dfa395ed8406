"""`mlpatterns-pipelines`: compile the pipelines, run them on this machine, submit and schedule
them on Kubeflow Pipelines, or run the training loop in one process (the batch-training CronJob).

    mlpatterns-pipelines compile [--check] [--image REGISTRY/training-python:TAG]
    mlpatterns-pipelines run-local batch-training --param algorithm=random_forest \
        --param 'hyperparameters={"max_depth": 3}'
    mlpatterns-pipelines submit pipeline-training --host https://kfp.example.com --param train_gpus=1
    mlpatterns-pipelines schedule batch-training --host https://kfp.example.com --cron "0 0 2 * * *"
    mlpatterns-pipelines train --param tracking_uri=http://mlflow:5000

Locally, models are registered in MLFLOW_TRACKING_URI, else the kit's store in MLPATTERNS_HOME
(~/.mlpatterns), where `mlpatterns-server --model_uri models:/NAME@champion` finds them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from mlpatterns_pipelines import local_store
from mlpatterns_pipelines.components import TRAINING_IMAGE

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


def compile_all(output_dir: Path, image: str = TRAINING_IMAGE) -> dict[str, Path]:
    from mlpatterns_pipelines.pipelines import PIPELINES

    output_dir.mkdir(parents=True, exist_ok=True)
    return {name: _package(pipeline, output_dir, image) for name, pipeline in PIPELINES.items()}


def _with_image(path: Path, image: str) -> None:
    """Point every component of a compiled pipeline at `image` (one's own registry's training image)."""
    import yaml

    documents = list(yaml.safe_load_all(path.read_text()))
    for executor in documents[0]["deploymentSpec"]["executors"].values():
        if executor.get("container", {}).get("image") == TRAINING_IMAGE:
            executor["container"]["image"] = image
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))


def _compile(args: argparse.Namespace) -> int:
    if not args.check:
        for name, path in compile_all(Path(args.output_dir), args.image).items():
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


def training_run(arguments: dict[str, Any]) -> Any:
    """The training parameters among a pipeline's arguments (the rest are resources), as the
    one-process job's TrainingRun, so both are checked by the same rules."""
    from mlpatterns_pipelines.steps.batch import TrainingRun

    known = {f.name for f in fields(TrainingRun)}
    return TrainingRun(**{key: value for key, value in arguments.items() if key in known})


def _run_local(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mlpatterns_pipelines.local_run import run_pipeline
    from mlpatterns_pipelines.steps.tracking import check_reachable

    pipeline = _pipeline(args.pipeline)
    tracking = args.tracking_uri or local_store.tracking_uri()
    arguments = {**pipeline_arguments(pipeline, args.param), "tracking_uri": tracking}
    params = training_run(arguments)
    params.check()
    check_reachable(tracking)
    # Bound to the real stdout: the run redirects sys.stdout to its log file.
    console = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    log = local_store.home() / "logs" / f"{args.pipeline}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    pipeline_root = Path(args.pipeline_root) if args.pipeline_root else local_store.home() / "pipeline-root"
    console.print(f"{args.pipeline}: training '{params.model_name}' from {params.source}, MLflow at {tracking}")
    outcome = run_pipeline(pipeline, arguments, pipeline_root, log, console)
    console.print(f"full log: {log}")
    if not outcome.succeeded:
        step = outcome.failed_step
        where = f" at step {step.name}" if step else ""
        print(f"mlpatterns-pipelines: {args.pipeline} failed{where}: {outcome.reason}", file=sys.stderr)
        return 1
    from mlpatterns_pipelines.steps.registry import newest_decision

    version, reason = newest_decision(tracking, params.model_name)
    console.print(f"{args.pipeline} succeeded in {outcome.seconds:.0f}s: '{params.model_name}' version {version} "
                  f"registered; {reason}")  # fmt: skip
    console.print(f"serve the champion: {_serve_command(params.model_name, args.tracking_uri)}")
    return 0


def _serve_command(model_name: str, tracking_uri: str | None) -> str:
    """The server command for the champion, spelt so that it can be pasted from here."""
    server = Path(sys.executable).parent / "mlpatterns-server"
    with_path = os.path.relpath(server) if server.is_relative_to(Path.cwd()) else str(server)
    command = shlex.join([with_path, "--model_name", model_name, "--model_uri", f"models:/{model_name}@champion"])
    return f"MLFLOW_TRACKING_URI={shlex.quote(tracking_uri)} {command}" if tracking_uri else command


def _client(args: argparse.Namespace) -> Any:
    import kfp

    return kfp.Client(host=args.host, namespace=args.namespace)


def _package(pipeline: Any, folder: Path, image: str = TRAINING_IMAGE) -> Path:
    """The pipeline compiled from this code, so what runs is what this version defines."""
    from kfp import compiler

    path = folder / f"{pipeline.name}.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    if image != TRAINING_IMAGE:
        _with_image(path, image)
    return path


def _submit(args: argparse.Namespace) -> int:
    import tempfile

    pipeline = _pipeline(args.pipeline)
    arguments = pipeline_arguments(pipeline, args.param)
    training_run(arguments).check()
    client = _client(args)
    with tempfile.TemporaryDirectory() as folder:
        run = client.create_run_from_pipeline_package(
            str(_package(pipeline, Path(folder), args.image)),
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
    training_run(arguments).check()
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
            pipeline_package_path=str(_package(pipeline, Path(folder), args.image)),
            params=arguments,
        )
    print(f"scheduled {args.pipeline} ({args.cron}): recurring run {job.recurring_run_id}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from mlpatterns_pipelines.steps.batch import TrainingRun, run
    from mlpatterns_pipelines.steps.tracking import TrackingUnreachable
    from mlpatterns_pipelines.steps.validation import ValidationFailed

    params = parse_params(args.param)
    known = {f.name for f in fields(TrainingRun)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise SystemExit(f"unknown parameters {', '.join(unknown)}; they are {', '.join(sorted(known))}")
    try:
        decision = run(TrainingRun(**params))
    except (ValidationFailed, ValueError, TrackingUnreachable) as error:
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
    image_help = f"the training image the components run in (default {TRAINING_IMAGE}, which is not published)"
    compile_command.add_argument("--image", default=TRAINING_IMAGE, help=image_help)

    def with_params(command: argparse.ArgumentParser) -> None:
        command.add_argument("pipeline", help="batch-training or pipeline-training")
        command.add_argument("--param", action="append", default=[], help="a pipeline parameter, key=value")

    local_command = commands.add_parser("run-local", help="run a pipeline here with kfp.local")
    with_params(local_command)
    local_command.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else $MLPATTERNS_HOME/mlflow.db)"
    )
    local_command.add_argument(
        "--pipeline-root", default=None, help="artifacts (default: $MLPATTERNS_HOME/pipeline-root)"
    )

    for verb, description in (("submit", "run once on Kubeflow Pipelines"), ("schedule", "run on a schedule")):
        command = commands.add_parser(verb, help=description)
        with_params(command)
        command.add_argument("--host", required=True, help="the Kubeflow Pipelines API endpoint")
        command.add_argument("--namespace", default=None)
        command.add_argument("--experiment", default="mlpatterns")
        command.add_argument("--image", default=TRAINING_IMAGE, help=image_help)
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

    from mlpatterns_pipelines.steps.tracking import TrackingUnreachable

    try:
        return int(handlers[args.command](args))
    except (ValueError, TrackingUnreachable) as error:
        print(f"mlpatterns-pipelines: {args.command} refused: {error}", file=sys.stderr)
        return 1
    except (OSError, urllib3.exceptions.HTTPError) as error:
        print(f"mlpatterns-pipelines: cannot reach {getattr(args, 'host', 'the service')}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
