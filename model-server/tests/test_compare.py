"""The shadow comparison: pairing in-process (labels, numbers, scores, partners that never come),
then the process against a real redis-server with two real model servers logging to it, whose
disagreement is planted in the data."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mlpatterns_server.compare.pairing import Comparison, Logged, Pairing, Unpaired, compare
from tests.support.metrics import sample
from tests.support.model_server import ServerFactory
from tests.support.processes import ManagedProcess, free_port
from tests.support.shadow_models import shadow_pair


def event(request_id: str, role: str, outputs: dict[str, object], latency_ms: float = 1.0) -> Logged:
    document = {"request_id": request_id, "model": "iris", "version": "1" if role == "primary" else "2",
                "role": role, "outputs": outputs, "latency_ms": latency_ms}  # fmt: skip
    return Logged.from_event(document, entry_id=f"{request_id}-{role}", arrived=0.0)


def test_labels_agree_row_by_row_and_disagree_by_class_pair() -> None:
    found = compare(
        event("r", "primary", {"predict": [0, 1, 2, 2]}), event("r", "shadow", {"predict": [0, 2, 2, 1]}), 0
    )
    assert (found.output, found.agree, found.disagree) == ("predict", 2, 2)
    assert found.pairs == {("1", "2"): 1, ("2", "1"): 1}
    assert not found.abs_errors


def test_numbers_feed_the_error_and_agree_within_the_tolerance() -> None:
    primary, shadow = event("r", "primary", {"y": [1.0, 2.0, 3.0]}), event("r", "shadow", {"y": [1.0, 2.5, 3.05]})
    found = compare(primary, shadow, tolerance=0.1)
    assert (found.agree, found.disagree) == (2, 1)
    assert found.abs_errors == pytest.approx([0.0, 0.5, 0.05])
    as_classes = compare(primary, shadow, tolerance=0.1, task="classification")
    assert (as_classes.agree, as_classes.disagree) == (1, 2)


def test_scores_compare_by_the_class_they_pick() -> None:
    primary = event("r", "primary", {"predict_proba": [[0.9, 0.1], [0.4, 0.6]]})
    shadow = event("r", "shadow", {"predict_proba": [[0.6, 0.4], [0.7, 0.3]]})
    found = compare(primary, shadow, 0)
    assert (found.agree, found.disagree, found.pairs) == (1, 1, {("1", "0"): 1})


def test_outputs_that_cannot_be_compared_say_why() -> None:
    assert (
        "no output in common" in compare(event("r", "primary", {"a": [1]}), event("r", "shadow", {"b": [1]}), 0).problem
    )
    assert (
        "2 rows against 1" in compare(event("r", "primary", {"a": [1, 2]}), event("r", "shadow", {"a": [1]}), 0).problem
    )


def test_partners_pair_in_either_order_and_the_unpaired_are_missing_only_where_they_should_be() -> None:
    pairing = Pairing("primary", "shadow", window_seconds=5, tolerance=0, every_request_mirrored=False)
    assert pairing.add(event("a", "shadow", {"p": [1]})) is None
    paired = pairing.add(event("a", "primary", {"p": [1]}))
    assert isinstance(paired, Comparison)
    assert paired.primary.role == "primary"
    assert paired.agree == 1
    assert pairing.add(event("b", "primary", {"p": [1]})) is None  # not mirrored: expected
    assert pairing.add(event("c", "shadow", {"p": [1]})) is None  # the primary never logged it
    assert pairing.add(event("d", "canary", {"p": [1]})) is None  # neither role: ignored
    assert pairing.expire(now=4.9) == []
    gone = {unpaired.event.request_id: unpaired.missing for unpaired in pairing.expire(now=5.0)}
    assert gone == {"b": False, "c": True}
    every = Pairing("primary", "shadow", window_seconds=5, tolerance=0, every_request_mirrored=True)
    every.add(event("b", "primary", {"p": [1]}))
    assert [unpaired.missing for unpaired in every.expire(now=10)] == [True]


def test_a_second_event_of_one_role_is_a_retry_not_a_pair() -> None:
    pairing = Pairing("primary", "shadow", window_seconds=5, tolerance=0, every_request_mirrored=True)
    pairing.add(event("a", "primary", {"p": [1]}))
    again = pairing.add(event("a", "primary", {"p": [1]}))
    assert isinstance(again, Unpaired)
    assert not again.missing
    assert isinstance(pairing.add(event("a", "shadow", {"p": [2]})), Comparison)


@pytest.fixture
def comparison(tmp_path: Path, own_redis_url: str) -> Iterator[Callable[..., str]]:
    started: list[ManagedProcess] = []

    def start(*extra: str) -> str:
        port = free_port()
        command = [sys.executable, "-m", "mlpatterns_server", "compare", "--redis_url", own_redis_url,
                   "--http_port", str(port), "--host", "127.0.0.1", *extra]  # fmt: skip
        process = ManagedProcess(command, tmp_path / f"compare-{len(started)}.log")
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        process.wait_http(f"{url}/v2/health/ready")
        return url

    yield start
    for process in started:
        process.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.2)


def test_the_planted_disagreement_is_what_the_comparison_reports(
    tmp_path: Path, own_redis_url: str, start_server: ServerFactory, comparison: Callable[..., str]
) -> None:
    pair = shadow_pair(tmp_path, rows=200, disagreement=0.25)
    url = comparison("--window_seconds", "2")
    logging = ("--prediction_log_sink", "redis", "--prediction_log_redis_url", own_redis_url)
    primary = start_server("--model_dir", str(pair.primary_dir), "--role", "primary", "--model_version", "1", *logging)
    shadow = start_server("--model_dir", str(pair.shadow_dir), "--role", "shadow", "--model_version", "2", *logging)
    for index, row in enumerate(pair.rows):
        headers = {"x-request-id": f"req-{index}"}
        for server in (primary, shadow):  # what a mirror does: the same request, the same id
            answer = httpx.post(server.predict_url, json={"instances": [row.tolist()]}, headers=headers)
            assert answer.status_code == 200
    httpx.post(shadow.predict_url, json={"instances": [pair.rows[0].tolist()]}, headers={"x-request-id": "lonely"})
    metrics = f"{url}/metrics"

    def compared() -> float:
        return sum(sample(metrics, "mlpatterns_shadow_comparisons_total", result=r) for r in ("agree", "disagree"))

    wait_for(lambda: compared() == len(pair.rows))
    disagree = sample(metrics, "mlpatterns_shadow_comparisons_total", model="iris", result="disagree")
    assert disagree / len(pair.rows) == pytest.approx(pair.disagreement)
    flipped = sum(1 for p, s in zip(pair.primary_labels, pair.shadow_labels, strict=True) if (p, s) == (0, 1))
    assert sample(metrics, "mlpatterns_shadow_disagreements_total", primary_class="0", shadow_class="1") == flipped
    wait_for(lambda: sample(metrics, "mlpatterns_shadow_comparisons_total", result="missing") == 1)  # "lonely"
    assert sample(metrics, "mlpatterns_shadow_unpaired_events_total", role="shadow") == 1
    summary = httpx.get(f"{url}/v1/summary").json()["models"]["iris"]
    assert summary["agreement_rate"] == pytest.approx(1 - pair.disagreement)
    assert (summary["primary_version"], summary["shadow_version"]) == ("1", "2")
    table = ManagedProcess(
        [sys.executable, "-m", "mlpatterns_server", "compare", "--summary_url", url], tmp_path / "summary.log"
    )
    assert table.wait_exit(60) == 0
    assert f"{1 - pair.disagreement:.2%}" in table.logs()
