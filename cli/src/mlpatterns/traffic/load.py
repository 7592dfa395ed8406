"""Open-loop load: requests leave on a fixed schedule (rps), whether or not earlier ones have been
answered, as real clients do; a closed loop would slow down with the server and hide its queueing.
Each request carries one row and a simulated user's id, so sticky routing sees a user population.
The answer's x-mlpatterns-role and x-mlpatterns-model-version headers tell which variant answered."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from mlpatterns.traffic.target import Target

ROLE = "x-mlpatterns-role"
VERSION = "x-mlpatterns-model-version"


@dataclass(frozen=True)
class Plan:
    rps: float
    seconds: float
    users: int = 0  # 0: no user header
    user_header: str = "x-user-id"
    headers: dict[str, str] = field(default_factory=dict)
    max_in_flight: int = 256
    timeout: float = 10.0

    @property
    def total(self) -> int:
        return max(1, round(self.rps * self.seconds))


@dataclass
class Tally:
    sent: int = 0
    answered: int = 0
    ok: int = 0
    skipped: int = 0  # not sent: max_in_flight requests were still open
    codes: Counter[str] = field(default_factory=Counter)
    variants: Counter[tuple[str, str]] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)  # what failed, e.g. the server's error message

    def quantile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        answered = sum(self.variants.values())
        return {
            "sent": self.sent, "ok": self.ok, "errors": self.sent - self.ok, "skipped": self.skipped,
            "codes": dict(sorted(self.codes.items())),
            "p50_ms": _ms(self.quantile(0.5)), "p99_ms": _ms(self.quantile(0.99)),
            "variants": [
                {"role": role, "version": version, "requests": count, "share": count / answered}
                for (role, version), count in sorted(self.variants.items(), key=lambda item: -item[1])
            ],
            "error_messages": dict(self.errors.most_common(5)),
        }  # fmt: skip


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


async def _one(client: httpx.AsyncClient, target: Target, body: bytes, headers: dict[str, str], tally: Tally) -> None:
    started = time.perf_counter()
    try:
        answer = await client.post(target.url, content=body, headers=headers)
    except httpx.HTTPError as error:
        tally.codes["no answer"] += 1
        tally.errors[type(error).__name__] += 1
        return
    tally.latencies.append(time.perf_counter() - started)
    tally.answered += 1
    tally.codes[str(answer.status_code)] += 1
    if answer.is_success:
        tally.ok += 1
    else:
        tally.errors[_message(answer)] += 1
    role = answer.headers.get(ROLE)
    if role is not None:
        tally.variants[(role, answer.headers.get(VERSION, ""))] += 1


def _message(answer: httpx.Response) -> str:
    try:
        return f"{answer.status_code}: {answer.json()['error']}"[:200]
    except (ValueError, KeyError, TypeError):
        return f"{answer.status_code}: {answer.text[:160]}"


async def run(target: Target, rows: list[list[float]], plan: Plan,
              progress: Callable[[Tally, int], None] | None = None) -> Tally:  # fmt: skip
    tally = Tally()
    limits = httpx.Limits(max_connections=plan.max_in_flight, max_keepalive_connections=plan.max_in_flight)
    open_requests: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(timeout=plan.timeout, limits=limits) as client:
        start = time.perf_counter()
        for index in range(plan.total):
            delay = start + index / plan.rps - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(open_requests) >= plan.max_in_flight:
                tally.skipped += 1
                continue
            headers = {"content-type": "application/json", **plan.headers}
            if plan.users:
                headers[plan.user_header] = f"user-{index % plan.users}"
            body = json.dumps({"instances": [rows[index % len(rows)]]}).encode()
            task = asyncio.create_task(_one(client, target, body, headers, tally))
            open_requests.add(task)
            task.add_done_callback(open_requests.discard)
            tally.sent += 1
            if progress is not None and index % max(1, int(plan.rps / 4)) == 0:
                progress(tally, plan.total)
        if open_requests:
            await asyncio.wait(open_requests, timeout=plan.timeout + 1)
    if progress is not None:
        progress(tally, plan.total)
    return tally
