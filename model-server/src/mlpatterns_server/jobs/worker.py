"""`mlpatterns-server async-worker`: a front-end of the data plane that reads jobs from the
stream instead of HTTP. The jobs it reads at once are handed to the data plane together, so the
micro-batcher predicts them in one vectorised call; each answer is exactly what the synchronous
endpoint would have answered. A 4xx answer fails its job (retrying cannot fix the input); a 5xx
leaves it pending for another attempt, up to max_attempts."""

from __future__ import annotations

import asyncio
import logging
import signal

import orjson

from mlpatterns_server.dataplane.plane import Answer, DataPlane
from mlpatterns_server.dataplane.stages import Inference
from mlpatterns_server.errors import ServerError
from mlpatterns_server.jobs.metrics import JobMetrics
from mlpatterns_server.jobs.queue import DONE, FAILED, Job, JobQueue, Outcome
from mlpatterns_server.jobs.remote import PredictorFailed, RemotePredictor, join, split
from mlpatterns_server.jobs.settings import AsyncWorkerSettings
from mlpatterns_server.loading.loaded import LoadedModel
from mlpatterns_server.metrics import ServerMetrics
from mlpatterns_server.model import ServedModel
from mlpatterns_server.protocol import v2
from mlpatterns_server.protocol.codecs import V1, V2, Decoded, V1Codec, V2Codec

log = logging.getLogger(__name__)

BLOCK_MS = 1000


class Worker:
    def __init__(self, settings: AsyncWorkerSettings, model: ServedModel) -> None:
        import redis.asyncio

        # Every job read at once goes into one predict call.
        batching = {"enable_batching": True, "max_batch_size": max(settings.max_batch_size, settings.read_count)}
        self.settings = settings.model_copy(update=batching)
        self.metrics = ServerMetrics(model.name, model.version, settings.role)
        self.jobs = JobMetrics(self.metrics.registry, model.name)
        self.plane = DataPlane(self.settings, model, self.metrics)
        self.client = redis.asyncio.Redis.from_url(settings.redis_url)
        self.queue = JobQueue(self.client, settings.stream_name, settings.group, settings.result_ttl_seconds)
        self.remote = (
            RemotePredictor(settings.predictor_url, model.name, settings.predictor_request_timeout_seconds)
            if settings.predictor_url else None
        )  # fmt: skip
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        self.plane.start()
        await self.queue.ensure_group()
        log.info(
            "async worker %s reading %s (group %s), up to %d jobs at a time",
            self.settings.consumer, self.queue.stream, self.settings.group, self.settings.read_count,
        )  # fmt: skip
        try:
            while not self.stopping.is_set():
                await self.step()
        finally:
            await self.plane.close()
            await self.client.aclose()
            if self.remote:
                await self.remote.close()

    async def step(self) -> None:
        """Read a batch, predict it, store what finished; Redis errors wait and retry."""
        from redis.exceptions import RedisError

        try:
            jobs = await self.queue.read(
                self.settings.consumer,
                self.settings.read_count,
                BLOCK_MS,
                int(self.settings.visibility_timeout_seconds * 1000),
            )
            outcomes = await self.predict(jobs)
            await self.queue.finish(outcomes)
            self.jobs.count(DONE, sum(outcome.status == DONE for outcome in outcomes))
            self.jobs.count(FAILED, sum(outcome.status == FAILED for outcome in outcomes))
            self.jobs.count("retried", len(jobs) - len(outcomes))
            depth, oldest = await self.queue.backlog()
            self.jobs.depth.set(depth)
            self.jobs.oldest.set(oldest)
        except (RedisError, OSError) as error:
            log.warning("the job queue is unavailable (%s); retrying in 1 s", error)
            await asyncio.sleep(1)

    async def predict(self, jobs: list[Job]) -> list[Outcome]:
        given_up = [job for job in jobs if job.attempts > self.settings.max_attempts]
        outcomes = [
            Outcome(job, FAILED, error=f"gave up after {self.settings.max_attempts} attempts (each failed or its "
                    "worker died)")
            for job in given_up
        ]  # fmt: skip
        tried = [job for job in jobs if job.attempts <= self.settings.max_attempts]
        if self.remote is not None:
            return outcomes + await self._predict_remotely(tried, self.remote)
        answers = await asyncio.gather(*(self._answer(job) for job in tried))
        for job, answer in zip(tried, answers, strict=True):
            outcome = self._outcome(job, answer)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    async def _predict_remotely(self, jobs: list[Job], remote: RemotePredictor) -> list[Outcome]:
        """Bind each job here, send those asking for the same outputs as one request, encode each
        job's share of the answer as the synchronous endpoint would."""
        outcomes: list[Outcome] = []
        groups: dict[tuple[str, ...], list[tuple[Job, V1Codec | V2Codec, Decoded, Inference]]] = {}
        for job in jobs:
            codec = V2 if job.protocol == "v2" else V1
            try:
                inference, decoded = await self.plane.bind(codec, job.body, job.id, None, job.binary_header)
            except ServerError as error:
                outcomes.append(Outcome(job, FAILED, error=error.message))
                continue
            groups.setdefault(inference.outputs, []).append((job, codec, decoded, inference))
        for names, members in groups.items():
            inputs, ends = join([inference.inputs for _, _, _, inference in members])
            try:
                outputs = await remote.predict(inputs, names)
            except PredictorFailed as error:
                failed = [self._failed_remotely(job, error) for job, _, _, _ in members]
                outcomes += [outcome for outcome in failed if outcome is not None]
                continue
            for (job, codec, decoded, _), share in zip(members, split(outputs, ends), strict=True):
                content, _ = codec.encode(decoded, self.plane.model, job.id, share)
                outcomes.append(Outcome(job, DONE, result=content))
        return outcomes

    def _failed_remotely(self, job: Job, error: PredictorFailed) -> Outcome | None:
        if error.status < 500 or job.attempts >= self.settings.max_attempts:
            return Outcome(job, FAILED, error=error.message)
        log.warning("job %s: %s (attempt %d of %d)", job.id, error.message, job.attempts, self.settings.max_attempts)
        return None

    async def _answer(self, job: Job) -> Answer:
        codec = V2 if job.protocol == "v2" else V1

        async def body() -> bytes:
            return job.body

        return await self.plane.handle(codec, body, self.plane.model.name, job.id, None, job.binary_header)

    def _outcome(self, job: Job, answer: Answer) -> Outcome | None:
        if answer.status == 200:
            if v2.HEADER_LENGTH in answer.headers:
                return Outcome(job, FAILED, error="binary outputs cannot be kept as a job's result; ask for JSON")
            return Outcome(job, DONE, result=answer.body)
        error = str(orjson.loads(answer.body).get("error", "")) if answer.body.startswith(b"{") else ""
        if answer.status < 500:
            return Outcome(job, FAILED, error=error)
        if job.attempts >= self.settings.max_attempts:
            return Outcome(job, FAILED, error=f"{error} (after {job.attempts} attempts)")
        log.warning("job %s failed (attempt %d of %d): %s", job.id, job.attempts, self.settings.max_attempts, error)
        return None  # left pending: claimed again after the visibility timeout


def run(settings: AsyncWorkerSettings, loaded: LoadedModel, load_seconds: float) -> None:
    model = ServedModel.from_settings(settings, loaded)
    model.load_seconds = load_seconds
    worker = Worker(settings, model)
    # /metrics (and a liveness probe's target) on the HTTP port.
    stop_metrics = worker.metrics.serve_port(settings.http_port, settings.host)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stopping.set)
        await worker.run()

    try:
        asyncio.run(main())
    finally:
        stop_metrics()
