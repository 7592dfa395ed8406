"""The job queue on Redis: a Stream of jobs read by a consumer group, and a hash per job holding
its status and result.

At least once: a worker acknowledges (and deletes) a job only once its result is stored; a job
read by a worker that dies stays pending in the group and is claimed by another after the
visibility timeout (XAUTOCLAIM). Each read counts an attempt in the job's hash, so a job that keeps
killing its worker or failing is marked failed after `max_attempts` instead of looping. Finished
jobs leave the stream, so its length is the backlog."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson

# Atomic submit: an Idempotency-Key seen before returns its first job (or -2: it came with another
# body); otherwise the job's hash, its stream entry and the key are written together, so a
# concurrent retry never sees half a job. A job id refused by _RESOLVE (its tombstone) is never
# written (-1), however late its submit reaches Redis.
_SUBMIT = """
if redis.call("EXISTS", KEYS[4]) == 1 then return {ARGV[1], -1} end
if ARGV[8] == "1" then
  local existing = redis.call("GET", KEYS[1])
  if existing then
    local id, digest = string.match(existing, "^(%S+) ?(%S*)$")
    if digest ~= "" and digest ~= ARGV[9] then return {id, -2} end
    return {id, 0}
  end
end
redis.call("HSET", KEYS[2], "status", "pending", "submitted", ARGV[2], "attempts", 0)
redis.call("EXPIRE", KEYS[2], ARGV[3])
redis.call("XADD", KEYS[3], "*", "id", ARGV[1], "protocol", ARGV[5], "body", ARGV[6], "binary_header", ARGV[7])
if ARGV[8] == "1" then redis.call("SET", KEYS[1], ARGV[1] .. " " .. ARGV[9], "EX", ARGV[4]) end
return {ARGV[1], 1}
"""
# After a submit whose answer was lost: 1 when the job exists (the answer was lost, not the job),
# else 0 and a tombstone, so a submit still on its way is refused (-1 above).
_RESOLVE = """
if redis.call("EXISTS", KEYS[1]) == 1 then return 1 end
redis.call("SET", KEYS[2], "refused", "EX", ARGV[1])
return 0
"""


class IdempotencyConflict(Exception):
    """The Idempotency-Key was first used with another body (answered 422)."""


class Refused(Exception):
    """The job id was refused by a resolve: the job does not exist and never will."""


DONE, FAILED, PENDING = "done", "failed", "pending"


@dataclass
class Job:
    entry_id: str
    id: str
    protocol: str
    body: bytes
    binary_header: str | None
    attempts: int = 0


@dataclass
class Outcome:
    job: Job
    status: str  # done or failed; a job to retry has no outcome
    result: bytes | None = None
    error: str | None = None


class JobQueue:
    def __init__(self, client: Any, stream: str, group: str, result_ttl_seconds: int) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.result_ttl = result_ttl_seconds
        self._submit = client.register_script(_SUBMIT)
        self._resolve = client.register_script(_RESOLVE)

    def job_key(self, job_id: str) -> str:
        return f"{self.stream}:job:{job_id}"

    async def ensure_group(self) -> None:
        """The stream and its group, created from the start of the stream (jobs submitted before
        any worker ran are read too)."""
        from redis.exceptions import ResponseError

        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def submit(
        self, job_id: str, protocol: str, body: bytes, binary_header: str | None, idempotency_key: str | None,
        idempotency_ttl: int,
    ) -> tuple[str, bool]:  # fmt: skip
        """The job's id, and whether it is new (False: the Idempotency-Key's first job)."""
        keys = [f"{self.stream}:idempotency:{idempotency_key or ''}", self.job_key(job_id), self.stream,
                self._tombstone(job_id)]  # fmt: skip
        digest = hashlib.sha256(f"{protocol}\0{binary_header or ''}\0".encode() + body).hexdigest()
        args = [job_id, time.time(), self.result_ttl, idempotency_ttl, protocol, body, binary_header or "",
                "1" if idempotency_key else "0", digest]  # fmt: skip
        given, created = await self._submit(keys=keys, args=args)
        given = given.decode() if isinstance(given, bytes) else str(given)
        if int(created) == -2:
            raise IdempotencyConflict(f"the Idempotency-Key was first used for job {given}, with another body")
        if int(created) == -1:
            raise Refused(job_id)
        return given, bool(int(created))

    async def resolve(self, job_id: str) -> bool:
        """Whether a job whose submit had no answer exists; when not, it never will."""
        return bool(await self._resolve(keys=[self.job_key(job_id), self._tombstone(job_id)], args=[self.result_ttl]))

    def _tombstone(self, job_id: str) -> str:
        return f"{self.stream}:refused:{job_id}"

    async def status(self, job_id: str) -> dict[str, Any] | None:
        status, result, error = await self.client.hmget(self.job_key(job_id), ["status", "result", "error"])
        if status is None:
            return None
        return {"status": status.decode(), "result": result or None, "error": error.decode() if error else None}

    async def read(self, consumer: str, count: int, block_ms: int, visibility_ms: int) -> list[Job]:
        """Jobs a dead worker left (idle past the visibility timeout) first, else new ones; each
        read counts an attempt."""
        _, entries, deleted = await self.client.xautoclaim(
            self.stream, self.group, consumer, min_idle_time=visibility_ms, start_id="0-0", count=count
        )
        if deleted:
            await self.client.xack(self.stream, self.group, *deleted)
        if not entries:
            answer = await self.client.xreadgroup(self.group, consumer, {self.stream: ">"}, count=count, block=block_ms)
            entries = answer[0][1] if answer else []
        jobs = [_job(entry_id, fields) for entry_id, fields in entries]
        if jobs:
            pipe = self.client.pipeline(transaction=False)
            for job in jobs:
                pipe.hincrby(self.job_key(job.id), "attempts", 1)
                pipe.expire(self.job_key(job.id), self.result_ttl)
            counts = await pipe.execute()
            for job, attempts in zip(jobs, counts[::2], strict=True):
                job.attempts = int(attempts)
        return jobs

    async def finish(self, outcomes: list[Outcome]) -> None:
        """Store results, then acknowledge and drop the jobs, in one transaction."""
        if not outcomes:
            return
        pipe = self.client.pipeline(transaction=True)
        now = time.time()
        for outcome in outcomes:
            key = self.job_key(outcome.job.id)
            fields = {"status": outcome.status, "finished": now, "result": outcome.result or b"",
                      "error": outcome.error or ""}  # fmt: skip
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self.result_ttl)
        ids = [outcome.job.entry_id for outcome in outcomes]
        pipe.xack(self.stream, self.group, *ids)
        pipe.xdel(self.stream, *ids)
        await pipe.execute()

    async def backlog(self) -> tuple[int, float]:
        """Jobs not finished, and the age in seconds of the oldest (0 when there is none)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.xlen(self.stream)
        pipe.xrange(self.stream, count=1)
        length, first = await pipe.execute()
        if not first:
            return int(length), 0.0
        entry_id = first[0][0].decode() if isinstance(first[0][0], bytes) else first[0][0]
        return int(length), max(0.0, time.time() - int(entry_id.split("-")[0]) / 1000)


def _job(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Job:
    header = fields.get(b"binary_header", b"").decode()
    return Job(
        entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        fields[b"id"].decode(),
        fields[b"protocol"].decode(),
        fields[b"body"],
        header or None,
    )


def status_document(job_id: str, status: dict[str, Any]) -> bytes:
    """GET /v1/jobs/{id}: the result inserted as it was stored, exactly the synchronous answer."""
    result = status["result"] if status["status"] == DONE and status["result"] else b"null"
    head = orjson.dumps({"id": job_id, "status": status["status"], "error": status["error"]})
    return head[:-1] + b',"result":' + result + b"}"
