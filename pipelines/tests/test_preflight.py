"""Parameters that cannot work and a tracking server that does not answer are refused before the
first step runs, in seconds, with the parameter or server named; a tie keeps the champion."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mlpatterns_pipelines.steps.batch import TrainingRun
from mlpatterns_pipelines.steps.registry import compare
from tests.support.pipelines import executed_tasks, run_command
from tests.support.processes import free_port

REFUSED = [
    ({"algorithm": "forest"}, "algorithm 'forest' is not one of hist_gradient_boosting, random_forest"),
    ({"algorithm": "random_forest", "hyperparameters": {"depth": 3}}, "random_forest has no hyperparameter depth"),
    ({"metric": "auc"}, "metric 'auc' is not one of accuracy"),
    ({"test_size": 1.5}, "test_size 1.5 must be between 0 and 1"),
    ({"source": "sklearn://nonesuch"}, "sklearn://nonesuch is not a bundled dataset"),
    ({"source": "ftp://data/x.csv"}, "source 'ftp://data/x.csv': use sklearn://NAME"),
]


@pytest.mark.parametrize(("params", "message"), REFUSED, ids=[f"refused-{i}" for i in range(len(REFUSED))])
def test_parameters_that_cannot_work_are_refused(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainingRun(**params).check()


@pytest.mark.parametrize(("params", "message"), REFUSED[:2], ids=["algorithm", "hyperparameters"])
def test_run_local_refuses_parameters_before_any_step(params: dict[str, Any], message: str, tmp_path: Path) -> None:
    done = run_command("run-local", "batch-training", cwd=tmp_path, params=params)
    assert done.returncode == 1
    assert message in done.stderr
    assert executed_tasks(done.stdout) == []


def test_submit_checks_parameters_before_calling_kubeflow(tmp_path: Path) -> None:
    done = run_command("submit", "batch-training", "--host", "http://127.0.0.1:9", cwd=tmp_path,
                       params={"algorithm": "forest"})  # fmt: skip
    assert done.returncode == 1
    assert "algorithm 'forest' is not one of" in done.stderr


def test_an_unreachable_tracking_server_is_found_before_any_step(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    done = run_command("run-local", "batch-training", "--tracking-uri", nowhere, cwd=tmp_path)
    assert done.returncode == 1
    assert f"the MLflow tracking server at {nowhere} does not answer" in done.stderr
    assert executed_tasks(done.stdout) == []
    trained = run_command("train", cwd=tmp_path, params={"tracking_uri": nowhere})
    assert trained.returncode == 1
    assert f"training refused: the MLflow tracking server at {nowhere} does not answer" in trained.stderr


def test_a_tie_keeps_the_champion_and_says_so() -> None:
    promoted, reason = compare("roc_auc", 0.9931, 0.9931, "1", 0.0)
    assert not promoted
    assert reason == "challenger roc_auc 0.9931 vs champion v1 0.9931: a tie, so the champion stays"


def test_scores_that_differ_are_never_shown_equal() -> None:
    promoted, reason = compare("roc_auc", 0.99312, 0.99311, "4", 0.0)
    assert promoted
    assert reason == (
        "challenger roc_auc 0.99312 vs champion v4 0.99311: better by 1e-05 (margin 0.0), so the challenger is promoted"
    )


def test_a_gain_below_the_margin_keeps_the_champion() -> None:
    promoted, reason = compare("f1", 0.95, 0.94, "2", 0.02)
    assert not promoted
    assert reason.endswith("better by 0.01, less than the margin 0.02, so the champion stays")
