"""`mlpatterns-server` / `python -m mlpatterns_server`: fetch the model, load it once to fail fast
with a clear message, then run a front-end over it: `serve` (the default: the HTTP server, from
one or more worker processes), `async-api` and `async-worker` (the asynchronous pattern), `batch`
(predictions for a table), `collector` (the prediction log landed as Parquet), `compare` (a
shadow's predictions against the primary's) and `aggregate` (an Ensemble's answers combined, no
model). Each subcommand
has its own settings class, read from the command line and MLPATTERNS_* variables."""

from __future__ import annotations

import difflib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, CliApp

from mlpatterns_server import logs
from mlpatterns_server.errors import ModelLoadError
from mlpatterns_server.loading.loaded import LoadedModel
from mlpatterns_server.settings import HttpSettings, ServerSettings

log = logging.getLogger("mlpatterns_server")


# Arguments of KServe's own model server that a KServe ServingRuntime may pass and this server has
# no use for: accepted and ignored. Any other argument it does not know is refused (a misspelt
# --enable_bathcing must not pass silently).
KSERVE_ONLY = {
    "--access_log_format", "--configure_logging", "--enable_docs_url", "--enable_grpc", "--enable_latency_logging",
    "--enable_predictor_health_check", "--grpc_max_receive_message_length", "--grpc_max_send_message_length",
    "--grpc_port", "--log_config_file", "--max_asyncio_workers", "--max_threads", "--predictor_request_retries",
    "--protocol", "--ssl_certfile", "--ssl_keyfile",
}  # fmt: skip


class UnknownArgument(Exception):
    pass


S = TypeVar("S", bound=BaseSettings)


def parse_settings(argv: Sequence[str], settings_class: type[S]) -> S:
    known = {f"--{name}" for name in settings_class.model_fields} | {"--help", "-h"}
    kept: list[str] = []
    skipping = False
    for token in argv:
        flag = token.split("=", 1)[0]
        if skipping and not token.startswith("-"):
            skipping = False  # the value of an ignored KServe argument
            continue
        skipping = flag in KSERVE_ONLY and "=" not in token
        if flag in KSERVE_ONLY:
            log.info("ignoring %s, an argument of KServe's model server this server has no use for", flag)
        elif token.startswith("-") and flag not in known:
            nearest = difflib.get_close_matches(flag, sorted(known), n=1)
            hint = f"; did you mean {nearest[0]}?" if nearest else " (--help lists them)"
            raise UnknownArgument(f"unknown argument {flag}{hint}")
        else:
            kept.append(token)
    return CliApp.run(settings_class, cli_args=kept)


def _explain(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        lines.append(f"  --{where}: {problem['msg']}" if where else f"  {problem['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Command:
    settings: Callable[[], type[BaseSettings]]
    run: Callable[[Any], int]


def _serve_settings() -> type[BaseSettings]:
    return ServerSettings


def _async_api_settings() -> type[BaseSettings]:
    from mlpatterns_server.jobs.settings import AsyncApiSettings

    return AsyncApiSettings


def _async_worker_settings() -> type[BaseSettings]:
    from mlpatterns_server.jobs.settings import AsyncWorkerSettings

    return AsyncWorkerSettings


def _batch_settings() -> type[BaseSettings]:
    from mlpatterns_server.batch.settings import BatchSettings

    return BatchSettings


def _run_batch(settings: Any) -> int:
    from mlpatterns_server.batch.job import run

    return with_model(settings, run)


def _collector_settings() -> type[BaseSettings]:
    from mlpatterns_server.collector.settings import CollectorSettings

    return CollectorSettings


def _run_collector(settings: Any) -> int:
    from mlpatterns_server.collector.run import run

    return run(settings)


def _compare_settings() -> type[BaseSettings]:
    from mlpatterns_server.compare.settings import CompareSettings

    return CompareSettings


def _run_compare(settings: Any) -> int:
    from mlpatterns_server.compare.run import run

    return run(settings)


def _run_async_api(settings: Any) -> int:
    from mlpatterns_server.jobs.api import run

    return with_model(settings, run)


def _run_async_worker(settings: Any) -> int:
    from mlpatterns_server.jobs.worker import run

    return with_model(settings, run)


def _aggregate_settings() -> type[BaseSettings]:
    from mlpatterns_server.aggregate.settings import AggregatorSettings

    return AggregatorSettings


def _run_aggregate(settings: Any) -> int:
    from mlpatterns_server.aggregate.app import run

    return run(settings)


def _deadletters_settings() -> type[BaseSettings]:
    from mlpatterns_server.predlog.deadletters_command import DeadLettersSettings

    return DeadLettersSettings


def _run_deadletters(settings: Any) -> int:
    from mlpatterns_server.predlog.deadletters_command import run

    return run(settings)


COMMANDS = {
    "serve": Command(_serve_settings, lambda settings: with_model(settings, serve)),
    "async-api": Command(_async_api_settings, _run_async_api),
    "async-worker": Command(_async_worker_settings, _run_async_worker),
    "batch": Command(_batch_settings, _run_batch),
    "collector": Command(_collector_settings, _run_collector),
    "compare": Command(_compare_settings, _run_compare),
    "aggregate": Command(_aggregate_settings, _run_aggregate),
    "deadletters": Command(_deadletters_settings, _run_deadletters),
}


def main(argv: Sequence[str] | None = None) -> int:
    logs.configure(os.environ.get("MLPATTERNS_LOG_LEVEL", "INFO"), os.environ.get("MLPATTERNS_LOG_FORMAT", "text"))
    args = list(sys.argv[1:] if argv is None else argv)
    # `serve` is the default, so KServe's command lines (flags only) keep working.
    name = args.pop(0) if args and args[0] in COMMANDS else "serve"
    command = COMMANDS[name]
    prog = "mlpatterns-server" if name == "serve" else f"mlpatterns-server {name}"
    try:
        settings = parse_settings(args, command.settings())
    except ValidationError as error:
        print(f"{prog}: invalid arguments\n{_explain(error)}", file=sys.stderr)
        return 2
    except UnknownArgument as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)  # type: ignore[attr-defined]
    return command.run(settings)


M = TypeVar("M", bound=ServerSettings)


def with_model(settings: M, run: Callable[[M, LoadedModel, float], int | None]) -> int:
    """Fetch and load the model settings name, then run the front-end on it."""
    problem = _unwritable_spool(settings)
    if problem:
        print(f"mlpatterns-server: {problem}", file=sys.stderr)
        return 2
    # The MLflow client would retry for minutes on its own; our fetch loop retries with backoff.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    # A progress bar per download is noise in a server log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    from mlpatterns_server.loading.formats import load_model
    from mlpatterns_server.loading.storage import content_digest, download_folder, fetch_model

    log.info("fetching model '%s' from %s", settings.model_name, settings.model_uri or settings.model_dir)
    with download_folder(settings) as target:
        try:
            fetched = fetch_model(settings, target)
            started = time.perf_counter()
            loaded = load_model(fetched.path, settings.model_format, settings.skops_trusted_types)
            load_seconds = time.perf_counter() - started
        except ModelLoadError as error:
            log.error("cannot serve model '%s': %s", settings.model_name, error.message)
            return 1
        version = settings.model_version or fetched.registry_version or content_digest(fetched.path)
        update = {"model_dir": str(fetched.path), "model_uri": None, "model_version": version}
        return run(settings.model_copy(update=update), loaded, load_seconds) or 0


def serve(settings: ServerSettings, loaded: LoadedModel, load_seconds: float) -> None:
    if settings.workers == 1:
        _serve_in_process(settings, loaded, load_seconds)
    else:
        del loaded  # each worker loads its own copy from the local path
        _serve_workers(settings)


def _unwritable_spool(settings: ServerSettings) -> str | None:
    """Why the prediction-log spool cannot be used, found before any worker starts."""
    if settings.prediction_log_sink == "none" or not settings.prediction_log_spool:
        return None
    directory = settings.spool_directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory):
            pass
    except OSError as error:
        return (
            f"the prediction-log spool directory {directory} is not writable ({error.strerror}): set "
            "--prediction_log_spool_dir to a writable directory, or --prediction_log_spool false"
        )
    return None


def uvicorn_options(settings: HttpSettings) -> dict[str, object]:
    from mlpatterns_server.connection import GuardedHttpToolsProtocol

    return {
        "http": GuardedHttpToolsProtocol,
        "host": settings.host,
        "port": settings.http_port,
        "log_config": None,
        "access_log": settings.access_log,
        "timeout_keep_alive": settings.timeout_keep_alive,
        "timeout_graceful_shutdown": settings.grace_period,
    }


def _serve_in_process(settings: ServerSettings, loaded: LoadedModel, load_seconds: float) -> None:
    import uvicorn

    from mlpatterns_server.app import create_app
    from mlpatterns_server.model import ServedModel

    model = ServedModel.from_settings(settings, loaded)
    model.load_seconds = load_seconds
    uvicorn.run(create_app(settings, model), **uvicorn_options(settings))  # type: ignore[arg-type]


def _serve_workers(settings: ServerSettings) -> None:
    import uvicorn

    from mlpatterns_server.app import SETTINGS_ENV
    from mlpatterns_server.metrics import serve_port, workers_registry

    # Workers are spawned fresh; they read their settings and the shared metrics directory from
    # the environment (prometheus-client picks its multiprocess mode at import).
    own_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    metrics_dir = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="mlpatterns-metrics-"))
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    stop_metrics = (
        serve_port(workers_registry(), settings.metrics_port, settings.host) if settings.metrics_port else None
    )
    try:
        uvicorn.run(
            "mlpatterns_server.app:create_worker_app",
            factory=True,
            workers=settings.workers,
            **uvicorn_options(settings),  # type: ignore[arg-type]
        )
    finally:
        if stop_metrics:
            stop_metrics()
        if own_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
