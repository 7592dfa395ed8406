"""The asynchronous pattern end to end: the async API and workers as real processes on a real
redis-server. Submit and poll, bad input refused with the synchronous endpoint's 4xx, idempotent
retries, a worker SIGKILLed mid-batch whose jobs another worker finishes, and a poison job that
ends failed instead of looping."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import joblib
import redis

from tests.support.model_server import Iris, Server, ServerFactory
from tests.support.picky_model import Picky
from tests.support.processes import ManagedProcess
from tests.support.slow_model import Slow

STREAM = "mlpatterns:jobs:iris"


def api(start_server: ServerFactory, model_dir: Path, own_redis_url: str, *extra: str) -> Server:
    return start_server("--model_dir", str(model_dir), "--redis_url", own_redis_url, *extra, subcommand="async-api")


def worker(start_server: ServerFactory, model_dir: Path, own_redis_url: str, *extra: str, **env: str) -> Server:
    return start_server(
        "--model_dir", str(model_dir), "--redis_url", own_redis_url, *extra,
        subcommand="async-worker", ready_path="/metrics", env=env,
    )  # fmt: skip


def result(server: Server, job_id: str, timeout: float = 60) -> dict[str, Any]:
    """Poll the job until it is no longer pending (what a client does)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.get(f"{server.url}/v1/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        if document["status"] != "pending":
            return document
        assert time.monotonic() < deadline, f"job {job_id} still pending"
        time.sleep(0.05)


def test_a_job_answers_exactly_what_the_synchronous_endpoint_answers(
    start_server: ServerFactory, iris: Iris, own_redis_url: str
) -> None:
    front = api(start_server, iris.joblib_dir, own_redis_url)
    worker(start_server, iris.joblib_dir, own_redis_url)
    synchronous = start_server("--model_dir", str(iris.joblib_dir), "--model_version", "v")
    rows = iris.features[[0, 60, 120]].tolist()
    v2_request = {"id": "r", "inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP64", "data": rows}]}

    submitted = httpx.post(f"{front.url}/v1/jobs", json={"instances": rows})
    assert submitted.status_code == 202
    job_id = submitted.json()["id"]
    assert submitted.headers["location"] == f"/v1/jobs/{job_id}"
    v2_job = httpx.post(f"{front.url}/v1/jobs", json=v2_request).json()["id"]

    done = result(front, job_id)
    assert done["status"] == "done"
    assert done["error"] is None
    assert done["result"] == httpx.post(synchronous.predict_url, json={"instances": rows}).json()
    v2_done = result(front, v2_job)["result"]
    assert v2_done["outputs"] == httpx.post(synchronous.infer_url, json=v2_request).json()["outputs"]


def test_a_worker_can_predict_on_another_model_server_over_v2(
    start_server: ServerFactory, iris: Iris, own_redis_url: str
) -> None:
    front = api(start_server, iris.joblib_dir, own_redis_url)
    predictor = start_server("--model_dir", str(iris.joblib_dir), "--model_version", "p")
    worker(start_server, iris.joblib_dir, own_redis_url, "--predictor_url", predictor.url)
    rows = [iris.features[[i, i + 50]].tolist() for i in range(0, 40, 4)]
    ids = [httpx.post(f"{front.url}/v1/jobs", json={"instances": pair}).json()["id"] for pair in rows]
    for job_id, pair in zip(ids, rows, strict=True):
        done = result(front, job_id)
        assert done["status"] == "done"
        assert done["result"] == httpx.post(predictor.predict_url, json={"instances": pair}).json()
    served = httpx.get(f"{predictor.url}/metrics").text
    assert 'mlpatterns_requests_total{code="200",model="iris",role="primary",version="p"}' in served


def test_bad_input_gets_the_synchronous_4xx_and_no_job(
    start_server: ServerFactory, iris: Iris, own_redis_url: str
) -> None:
    front = api(start_server, iris.joblib_dir, own_redis_url)
    synchronous = start_server("--model_dir", str(iris.joblib_dir))
    bad_requests: list[dict[str, Any]] = [
        {"instances": [[1, 2]]}, {"instances": []}, {"rows": [[1, 2, 3, 4]]}, {"instances": [["a", 1, 2, 3]]},
    ]  # fmt: skip
    for bad in bad_requests:
        refused = httpx.post(f"{front.url}/v1/jobs", json=bad)
        expected = httpx.post(synchronous.predict_url, json=bad)
        assert (refused.status_code, refused.json()) == (expected.status_code, expected.json())
        assert 400 <= refused.status_code < 500
    not_json = httpx.post(f"{front.url}/v1/jobs", content=b"{instances")
    assert not_json.status_code == 400
    assert redis.Redis.from_url(own_redis_url).xlen(STREAM) == 0
    unknown = httpx.get(f"{front.url}/v1/jobs/nope")
    assert unknown.status_code == 404
    assert "no job nope" in unknown.json()["error"]


def test_a_retry_with_the_same_idempotency_key_returns_the_first_job(
    start_server: ServerFactory, iris: Iris, own_redis_url: str
) -> None:
    front = api(start_server, iris.joblib_dir, own_redis_url)
    body = {"instances": iris.features[:2].tolist()}
    first = httpx.post(f"{front.url}/v1/jobs", json=body, headers={"Idempotency-Key": "order-17"})
    retry = httpx.post(f"{front.url}/v1/jobs", json=body, headers={"Idempotency-Key": "order-17"})
    other = httpx.post(f"{front.url}/v1/jobs", json=body, headers={"Idempotency-Key": "order-18"})
    assert first.status_code == retry.status_code == 202
    assert first.json()["id"] == retry.json()["id"] != other.json()["id"]
    assert redis.Redis.from_url(own_redis_url).xlen(STREAM) == 2


def test_jobs_of_a_worker_killed_mid_batch_are_finished_by_another(
    start_server: ServerFactory, iris: Iris, own_redis_url: str, tmp_path: Path
) -> None:
    slow = tmp_path / "slow"
    slow.mkdir()
    joblib.dump(Slow(), slow / "model.joblib")
    front = api(start_server, slow, own_redis_url)
    ids = [httpx.post(f"{front.url}/v1/jobs", json={"instances": [[5.0, 3.0, 1.5, float(i)]]}).json()["id"]
           for i in range(40)]  # fmt: skip
    first = worker(start_server, slow, own_redis_url, "--read_count", "8", SLOW_MODEL_SECONDS="5")
    client = redis.Redis.from_url(own_redis_url)
    _wait_for(lambda: client.xpending(STREAM, "workers")["pending"] > 0)  # evidence it holds a batch
    first.process.signal(signal.SIGKILL)
    first.process.wait_exit()
    worker(start_server, slow, own_redis_url, "--read_count", "16", "--visibility_timeout_seconds", "1",
           SLOW_MODEL_SECONDS="0.01")  # fmt: skip
    outcomes = [result(front, job_id) for job_id in ids]
    assert {outcome["status"] for outcome in outcomes} == {"done"}
    assert all(outcome["result"] == {"predictions": [1]} for outcome in outcomes)
    assert client.xlen(STREAM) == 0


def test_a_poison_job_ends_failed_and_the_others_are_done(
    start_server: ServerFactory, own_redis_url: str, tmp_path: Path
) -> None:
    picky = tmp_path / "picky"
    picky.mkdir()
    joblib.dump(Picky(), picky / "model.joblib")
    front = api(start_server, picky, own_redis_url)
    poison = httpx.post(f"{front.url}/v1/jobs", json={"instances": [[999, 1, 1, 1]]}).json()["id"]
    refused = httpx.post(f"{front.url}/v1/jobs", json={"instances": [[-1, 1, 1, 1]]}).json()["id"]
    good = httpx.post(f"{front.url}/v1/jobs", json={"instances": [[5, 1, 1, 1]]}).json()["id"]
    runner = worker(start_server, picky, own_redis_url, "--max_attempts", "2", "--visibility_timeout_seconds", "0.2")

    assert result(front, good) == {"id": good, "status": "done", "error": None, "result": {"predictions": [0]}}
    rejected = result(front, refused)
    assert rejected["status"] == "failed"
    assert "sepal length must be positive" in rejected["error"]
    failed = result(front, poison)
    assert failed["status"] == "failed"
    assert "after 2 attempts" in failed["error"]
    metrics = httpx.get(f"{runner.url}/metrics").text
    assert 'mlpatterns_async_jobs_total{model="iris",state="retried"} 1.0' in metrics
    assert 'mlpatterns_async_jobs_total{model="iris",state="failed"} 2.0' in metrics


def _wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)


def test_queue_metrics_show_the_backlog(start_server: ServerFactory, iris: Iris, own_redis_url: str) -> None:
    front = api(start_server, iris.joblib_dir, own_redis_url)
    for _ in range(3):
        httpx.post(f"{front.url}/v1/jobs", json={"instances": iris.features[:1].tolist()})
    metrics = httpx.get(f"{front.url}/metrics").text
    assert 'mlpatterns_async_jobs_total{model="iris",state="submitted"} 3.0' in metrics
    runner = worker(start_server, iris.joblib_dir, own_redis_url)
    _wait_for(
        lambda: 'mlpatterns_async_jobs_total{model="iris",state="done"} 3.0' in httpx.get(f"{runner.url}/metrics").text
    )
    assert 'mlpatterns_async_queue_depth{model="iris"} 0.0' in httpx.get(f"{runner.url}/metrics").text


def test_a_worker_stops_cleanly_on_sigterm(start_server: ServerFactory, iris: Iris, own_redis_url: str) -> None:
    runner = worker(start_server, iris.joblib_dir, own_redis_url)
    process: ManagedProcess = runner.process
    process.signal(signal.SIGTERM)
    assert process.wait_exit(timeout=20) == 0


def test_a_reused_idempotency_key_with_another_body_is_refused(
    start_server: ServerFactory, iris: Iris, own_redis_url: str
) -> None:
    front = api(start_server, iris.joblib_dir, own_redis_url)
    first = httpx.post(f"{front.url}/v1/jobs", json={"instances": iris.features[:1].tolist()},
                       headers={"Idempotency-Key": "order-19"})  # fmt: skip
    other = httpx.post(f"{front.url}/v1/jobs", json={"instances": iris.features[1:2].tolist()},
                       headers={"Idempotency-Key": "order-19"})  # fmt: skip
    assert first.status_code == 202
    assert other.status_code == 422
    assert first.json()["id"] in other.json()["error"]
    assert redis.Redis.from_url(own_redis_url).xlen(STREAM) == 1


def test_a_job_refused_after_a_lost_answer_never_appears(own_redis_url: str) -> None:
    """The API's resolve after a submit with no answer: a job that is not there is tombstoned, so
    the submit still on its way (Redis paused, the command in its buffer) cannot queue it late."""
    import asyncio

    import redis.asyncio

    from mlpatterns_server.jobs.queue import JobQueue, Refused

    async def scenario() -> None:
        client = redis.asyncio.Redis.from_url(own_redis_url)
        queue = JobQueue(client, STREAM, "workers", 3600)
        assert not await queue.resolve("late")  # as if its submit had not reached Redis yet
        try:
            await queue.submit("late", "v1", b"{}", None, None, 3600)
            raise AssertionError("a tombstoned job was queued")
        except Refused:
            pass
        await queue.submit("early", "v1", b"{}", None, None, 3600)
        assert await queue.resolve("early")  # it was queued: the answer was lost, not the job
        assert await client.xlen(STREAM) == 1
        await client.aclose()

    asyncio.run(scenario())


def test_with_redis_paused_mid_submission_every_202_is_a_job_and_every_503_is_none(
    start_server: ServerFactory, iris: Iris, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.services import start_redis

    redis_process, url = start_redis(tmp_path)
    try:
        front = api(start_server, iris.joblib_dir, url)
        body = {"instances": iris.features[:1].tolist()}

        def submit(_: int) -> int:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.post(f"{front.url}/v1/jobs", json=body, timeout=120).status_code
            return 0

        with ThreadPoolExecutor(16) as pool:
            answers = pool.map(submit, range(600))
            time.sleep(1.0)  # submissions under way
            redis_process.signal(signal.SIGSTOP)
            time.sleep(8)  # past the API's 5 s Redis timeout: answers are lost, commands wait in Redis
            redis_process.signal(signal.SIGCONT)
            codes = list(answers)
        assert set(codes) <= {202, 503}, codes
        accepted = codes.count(202)
        assert redis.Redis.from_url(url).xlen(STREAM) == accepted, f"{codes.count(503)} answered 503"
    finally:
        redis_process.stop()
