"""The QA patterns end to end through `mlpatterns up`: real model servers, redis-server, the
comparison and the gateway, as the charts render them. Splits are checked against their weights
with bounds a correct gateway leaves one run in a million (4.9 standard deviations), mirrored
shares likewise, and the comparison against the disagreement planted in the data, exactly."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from mlpatterns.local.routes import bucket
from tests.support.helm_tests import helm_test
from tests.support.local_up import Up
from tests.support.metrics import sample
from tests.support.shadow_models import ShadowPair, shadow_pair

# Two-sided, one run in a million: P(|Z| > 4.89) = 1e-6.
Z = 4.89


def within(count: int, trials: int, share: float) -> bool:
    """A count of trials with probability `share` each, inside the one-in-a-million band."""
    mean, sd = trials * share, math.sqrt(trials * share * (1 - share))
    return abs(count - mean) <= Z * sd


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> ShadowPair:
    return shadow_pair(tmp_path_factory.mktemp("models"), rows=400, disagreement=0.2)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


async def send(url: str, bodies: list[tuple[dict[str, Any], dict[str, str]]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        gate = asyncio.Semaphore(16)

        async def one(body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
            async with gate:
                return await client.post(url, json=body, headers=headers)

        return list(await asyncio.gather(*(one(body, headers) for body, headers in bodies)))


def predict(up: Up, requests: list[tuple[dict[str, Any], dict[str, str]]]) -> list[httpx.Response]:
    return asyncio.run(send(f"{up.gateway}/v1/models/iris:predict", requests))


@pytest.fixture
def online(home: Path, pair: ShadowPair) -> Iterator[Up]:
    up = Up(home, "online-ab", "variants[0].name=primary", "variants[0].weight=90",
            f"variants[0].model.uri={pair.primary_dir}", "variants[0].model.format=sklearn",
            "variants[1].name=canary", "variants[1].weight=10", f"variants[1].model.uri={pair.shadow_dir}",
            "variants[1].model.format=sklearn", "sticky.header=x-user-id")  # fmt: skip
    yield up
    up.interrupt()
    assert up.leftovers() == []


def test_online_ab_splits_by_weight_the_header_wins_and_users_stay(online: Up, pair: ShadowPair) -> None:
    row = {"instances": [pair.rows[0].tolist()]}
    answers = predict(online, [(row, {}) for _ in range(3000)])
    assert {answer.status_code for answer in answers} == {200}
    roles = Counter(answer.headers["x-mlpatterns-role"] for answer in answers)
    assert set(roles) == {"primary", "canary"}
    assert within(roles["canary"], 3000, 0.10), roles

    # The override wins over the weights and over a user's bucket.
    users = [f"user-{n}" for n in range(400)]
    primary_user = next(user for user in users if bucket(user) < 90)
    forced = predict(online, [(row, {"x-mlpatterns-variant": "canary", "x-user-id": primary_user})] * 50)
    assert {answer.headers["x-mlpatterns-role"] for answer in forced} == {"canary"}
    assert {
        a.headers["x-mlpatterns-role"] for a in predict(online, [(row, {"x-mlpatterns-variant": "primary"})] * 50)
    } == {"primary"}

    # Each user lands in one variant, the one its bucket says, every time.
    sticky = predict(online, [(row, {"x-user-id": user}) for user in users for _ in range(3)])
    seen: dict[str, set[str]] = {}
    for (_, headers), answer in zip([(row, {"x-user-id": u}) for u in users for _ in range(3)], sticky, strict=True):
        seen.setdefault(headers["x-user-id"], set()).add(answer.headers["x-mlpatterns-role"])
    assert all(seen[user] == {"canary" if bucket(user) >= 90 else "primary"} for user in users)
    canary_users = sum(bucket(user) >= 90 for user in users)
    assert within(canary_users, len(users), 0.10)

    # The chart's own `helm test`, run against the gateway: each variant forced and answering.
    url = f"{online.gateway}/v1/models/iris:predict"
    passed = helm_test("online-ab", URL=url, TARGETS=json.dumps({"primary": url, "canary": url}))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "variant canary answers, as canary" in passed.stdout


@pytest.fixture
def shadow(home: Path, pair: ShadowPair) -> Iterator[Up]:
    up = Up(home, "shadow-ab", f"primary.model.uri={pair.primary_dir}", f"shadow.model.uri={pair.shadow_dir}",
            "mirror.percent=50", "compare.windowSeconds=5")  # fmt: skip
    yield up
    done = up.down()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stopped shadow-ab" in done.stdout
    assert up.leftovers() == []


def test_shadow_ab_answers_with_the_primary_mirrors_its_share_and_reports_the_planted_disagreement(
    shadow: Up, pair: ShadowPair
) -> None:
    # The gateway says what it does not emulate, at start.
    assert "not emulated by the gateway: DestinationRule/demo-shadow-ab-shadow: spec.trafficPolicy" in shadow.output()
    requests = [
        ({"instances": [row.tolist()]}, {"x-request-id": f"req-{index}"}) for index, row in enumerate(pair.rows)
    ]
    answers = predict(shadow, requests)
    assert {answer.status_code for answer in answers} == {200}
    assert {answer.headers["x-mlpatterns-role"] for answer in answers} == {"primary"}
    primary_labels = [answer.json()["predictions"][0] for answer in answers]
    assert primary_labels == pair.primary_labels.tolist()  # the client gets the primary's answer, always

    # The shadow's own prediction log says which requests were mirrored to it.
    client = redis.Redis.from_url(shadow.named("redis")["url"])
    shadow_metrics = shadow.named("shadow-predictor")["metrics"]

    def mirrored() -> set[str]:
        entries: Any = client.xrange("mlpatterns:predictions")
        events = [json.loads(fields[b"event"]) for _, fields in entries]
        return {event["request_id"] for event in events if event["role"] == "shadow"}

    deadline = time.monotonic() + 60
    while sample(shadow_metrics, "mlpatterns_requests_total", code="200") != len(mirrored()) or not mirrored():
        assert time.monotonic() < deadline
        time.sleep(0.5)
    ids = mirrored()
    assert within(len(ids), len(pair.rows), 0.5), len(ids)
    flipped = {f"req-{i}" for i in range(len(pair.rows)) if pair.primary_labels[i] != pair.shadow_labels[i]}
    compare = shadow.named("compare")["url"]
    deadline = time.monotonic() + 60
    while (summary := httpx.get(f"{compare}/v1/summary").json()["models"].get("iris", {})).get("compared") != len(ids):
        assert time.monotonic() < deadline, summary
        time.sleep(0.5)
    assert summary["disagree"] == len(ids & flipped)
    assert summary["agreement_rate"] == pytest.approx(1 - len(ids & flipped) / len(ids))
    assert summary["missing"] == 0

    # The chart's own `helm test`, run against the gateway and the comparison.
    passed = helm_test("shadow-ab", URL=f"{shadow.gateway}/v1/models/iris:predict", COMPARE=compare)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "the shadow's answers are compared" in passed.stdout

    # The shadow killed mid-traffic: no client request fails, and up starts it again.
    victim = shadow.named("shadow-predictor")["pid"]
    during = asyncio.run(_kill_during(shadow, victim, requests))
    assert {answer.status_code for answer in during} == {200}
    assert "demo-shadow-ab-shadow-predictor exited with" in shadow.output()


async def _kill_during(up: Up, pid: int, requests: list[tuple[dict[str, Any], dict[str, str]]]) -> list[httpx.Response]:
    again = [(body, {"x-request-id": f"again-{headers['x-request-id']}"}) for body, headers in requests]
    traffic = asyncio.create_task(send(f"{up.gateway}/v1/models/iris:predict", again))
    await asyncio.sleep(0.5)
    os.kill(pid, signal.SIGKILL)
    return await traffic


def test_condition_based_routes_each_condition_to_its_model(home: Path, pair: ShadowPair) -> None:
    up = Up(home, "condition-based",
            "routes[0].name=eu", "routes[0].match.headers.x-region=eu", f"routes[0].model.uri={pair.shadow_dir}",
            "routes[0].model.format=sklearn", "routes[1].name=premium",
            "routes[1].match.headers.x-user-tier.regex=gold|platinum", f"routes[1].model.uri={pair.primary_dir}",
            "routes[1].model.format=sklearn", f"default.model.uri={pair.primary_dir}")  # fmt: skip
    try:
        row = {"instances": [pair.rows[0].tolist()]}
        cases = [({"x-region": "eu"}, "eu"), ({"x-user-tier": "gold"}, "premium"),
                 ({"x-user-tier": "platinum"}, "premium"), ({"x-user-tier": "golden"}, "default"),
                 ({"x-region": "us"}, "default"), ({}, "default")]  # fmt: skip
        for headers, role in cases:
            answers = predict(up, [(row, headers)] * 5)
            assert {answer.headers["x-mlpatterns-role"] for answer in answers} == {role}, headers
        passed = helm_test("condition-based", URL=f"{up.gateway}/v1/models/iris:predict")
        assert passed.returncode == 0, passed.stdout + passed.stderr
        assert "{'x-region': 'eu'} -> eu" in passed.stdout
    finally:
        up.interrupt()
    assert up.leftovers() == []
    assert "mlpatterns up condition-based: stopped" in up.output()
