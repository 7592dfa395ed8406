"""Prometheus for `mlpatterns up`, when the binary is installed (Debian's prometheus, `make setup`):
every process with /metrics a target, labelled as the Prometheus Operator labels a pod's series
(namespace, pod), so the kit's dashboards and alerts read the same labels here as in a cluster."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from mlpatterns.paths import REPOSITORY

# The kit's alert rules, when they are there (manifests/monitoring).
RULES = REPOSITORY / "manifests" / "monitoring" / "rules"


def binary() -> str | None:
    return shutil.which("prometheus")


def config(targets: list[dict[str, Any]], interval_seconds: float, rule_files: list[Path]) -> str:
    """targets: {name, address, path, labels}."""
    jobs = [
        {
            "job_name": target["name"],
            "metrics_path": target["path"],
            "static_configs": [{"targets": [target["address"]], "labels": target["labels"]}],
        }
        for target in targets
    ]
    # Prometheus durations take whole units: 0.25 s is 250ms.
    interval = (
        f"{interval_seconds:g}s" if interval_seconds == int(interval_seconds) else f"{round(interval_seconds * 1000)}ms"
    )
    document = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": jobs,
        **({"rule_files": [str(path) for path in rule_files]} if rule_files else {}),
    }
    return str(yaml.safe_dump(document, sort_keys=False))


def command(executable: str, config_file: Path, data: Path, port: int) -> list[str]:
    return [
        executable,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1d",
        "--log.level=warn",
    ]


def rule_files() -> list[Path]:
    return sorted(RULES.glob("*.yaml")) if RULES.is_dir() else []
