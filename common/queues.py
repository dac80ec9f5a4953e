"""Enqueueing jobs on RQ by dotted path, with RQ's JSON serializer (no pickles)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import redis
from rq import Callback, Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

from common.metrics import events as metric_events

PREDICT = "predict"
RENDER = "render"
TRANSCRIBE = "transcribe"
ALL_QUEUES = (PREDICT, RENDER, TRANSCRIBE)

# Every job reports a final failure to its user through this callback (workers/failures.py).
ON_FAILURE = Callback("workers.failures.report_failure")


@dataclass(frozen=True)
class Enqueued:
    job_id: str
    position: int  # 1 = next in line; 0 = a worker already took it


class JobQueue:
    """The queues as the bots and workers see them."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._queues: dict[str, Queue] = {}

    def queue(self, name: str) -> Queue:
        if name not in self._queues:
            self._queues[name] = Queue(name, connection=self.connection, serializer=JSONSerializer)
        return self._queues[name]

    def enqueue(
        self,
        queue: str,
        function: str,
        payload: dict[str, Any],
        *,
        timeout: int = 180,
        retries: int = 1,
        result_ttl: int = 600,
    ) -> Enqueued:
        job = self.queue(queue).enqueue(
            function,
            payload,
            job_id=uuid.uuid4().hex[:12],  # short enough for users to type in /status and /cancel
            job_timeout=timeout,
            result_ttl=result_ttl,
            failure_ttl=7 * 24 * 3600,
            retry=Retry(max=retries) if retries else None,
            on_failure=ON_FAILURE,
        )
        metric_events.job_enqueued(queue, function, payload)
        position = job.get_position()
        return Enqueued(job.id, 0 if position is None else position + 1)

    def fetch(self, job_id: str) -> Job | None:
        try:
            return Job.fetch(job_id, connection=self.connection, serializer=JSONSerializer)
        except Exception:  # rq raises NoSuchJobError, or a decoding error for a foreign key
            return None

    def waiting(self, queue: str) -> int:
        return self.queue(queue).count
