"""Scan rendered objects with checkov (Bridgecrew's IaC scanner) from its own virtualenv: it
pins library versions (boto3 among them) that the kit's environment must not share. Skips are
annotations on the objects (`checkov.io/skipN: CHECK=reason`), so each is written in the chart."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from mlpatterns.errors import UserError
from mlpatterns.paths import REPOSITORY
from mlpatterns.validation import Problem


class CheckovUnavailable(UserError):
    """checkov is not installed where the kit expects it."""


class CheckovFailed(UserError):
    """checkov itself failed (not a failed check: the scanner did not finish)."""


def checkov_binary() -> Path:
    path = Path(os.environ.get("MLPATTERNS_CHECKOV", REPOSITORY / ".tools" / "checkov" / "bin" / "checkov"))
    if not path.is_file():
        raise CheckovUnavailable(f"checkov not found at {path}: run make setup (or set MLPATTERNS_CHECKOV)")
    return path


def scan(documents: Iterable[tuple[str, dict[str, Any]]]) -> tuple[list[Problem], int]:
    """Failed checks as problems, and how many checks the objects' annotations skipped."""
    with tempfile.TemporaryDirectory(prefix="mlpatterns-checkov-") as folder:
        sources: dict[str, str] = {}
        for index, (source, document) in enumerate(documents):
            path = Path(folder) / f"{index:04d}.yaml"
            path.write_text(yaml.safe_dump(document, sort_keys=False))
            sources[f"/{path.name}"] = source
        if not sources:
            return [], 0
        done = subprocess.run(
            [str(checkov_binary()), "-d", folder, "--framework", "kubernetes", "--skip-download", "--quiet",
             "--output", "json"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if done.returncode not in (0, 1):
        raise CheckovFailed(f"checkov exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
    reports = json.loads(done.stdout) if done.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    problems, skipped = [], 0
    for report in reports:
        summary = report.get("summary", {})
        skipped += int(summary.get("skipped", 0))
        if summary.get("parsing_errors"):
            problems.append(Problem("checkov", "?", "(parse)", f"{summary['parsing_errors']} files did not parse"))
        for check in report.get("results", {}).get("failed_checks", []):
            problems.append(
                Problem(
                    sources.get(check["file_path"], check["file_path"]),
                    check["resource"],
                    check["check_id"],
                    f"checkov: {check['check_name']}",
                )
            )
    return problems, skipped
