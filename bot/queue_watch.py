"""Which queues a live worker serves, and telling users whose job waits far longer than expected.

A job on a queue that no worker serves would wait in silence: the acknowledgement says so at once
(from RQ's worker registry, and common.starting_workers for workers still loading their models),
and a job still in line past its queue's patience gets one message through the outbox. RQ drops a
worker from the registry when it stops, and its key expires ``worker_ttl`` + 60 s (105 s for ours)
after its last heartbeat when it dies, so a count here is at most that stale.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime

import redis
from rq import Queue, worker_registration
from rq.exceptions import DeserializationError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from common import outbox, starting_workers
from common.jobs import OutboxMessage, ReplyTo
from common.queues import ALL_QUEUES, PREDICT, RENDER, TRANSCRIBE

logger = logging.getLogger(__name__)

# What users call the work of each queue.
QUEUE_WORK = {PREDICT: "predictions", RENDER: "pictures", TRANSCRIBE: "speech"}
# A job still in line after this long has waited much longer than its kind usually does.
PATIENCE_S = {PREDICT: 60.0, RENDER: 120.0, TRANSCRIBE: 20 * 60.0}
START_HINT = "start one with `python -m workers`"
NOTICE_TTL_S = 7 * 24 * 3600
SCAN_JOBS = 50  # per queue and round: the oldest jobs are first in line


class QueueWatch:
    """Live workers per queue (cached for ``cache_s``) and long-wait notices.

    ``start_hint``: say how to start a worker (the console, where the user is the operator).
    """

    def __init__(
        self,
        connection: redis.Redis,
        *,
        start_hint: bool = False,
        patience_s: Mapping[str, float] = PATIENCE_S,
        cache_s: float = 1.0,
    ) -> None:
        self.connection = connection
        self.start_hint = start_hint
        self.patience_s = patience_s
        self.cache_s = cache_s
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def live_workers(self, queue: str) -> int:
        """Workers registered for ``queue`` whose key has not expired."""
        with self._lock:
            cached = self._counts.get(queue)
            if cached and time.monotonic() - cached[0] < self.cache_s:
                return cached[1]
        keys = sorted(worker_registration.get_keys(Queue(queue, connection=self.connection)))
        pipe = self.connection.pipeline(transaction=False)
        for key in keys:
            pipe.exists(key)
        count = sum(bool(alive) for alive in pipe.execute()) if keys else 0
        with self._lock:
            self._counts[queue] = (time.monotonic(), count)
        return count

    def unserved(self, queue: str) -> str:
        """Why a job on ``queue`` waits ("no worker serves speech right now"); "" when one serves or starts."""
        if self.live_workers(queue) or starting_workers.count(self.connection, queue):
            return ""
        return f"no worker serves {QUEUE_WORK.get(queue, queue)} right now"

    def acknowledgement_note(self, queue: str) -> str:
        """What the acknowledgement adds for a job on ``queue``: "" while a worker serves it."""
        if self.live_workers(queue):
            return ""
        work = QUEUE_WORK.get(queue, queue)
        if starting_workers.count(self.connection, queue):
            return f" A worker for {work} is starting; your job runs once it is ready."
        hint = f" ({START_HINT})" if self.start_hint else ""
        return f" Note: no worker serves {work} right now; your job waits in line and runs when one starts{hint}."

    def notify_long_waits(self, outbox_name: str) -> list[str]:
        """Tell each user of ``outbox_name`` once whose job has waited past its queue's patience.

        Returns the ids of the jobs told about. Several bot processes may run this: a Redis key per
        job lets only one of them send the notice.
        """
        told = []
        now = datetime.now(UTC)
        for queue in ALL_QUEUES:
            patience = self.patience_s.get(queue)
            if patience is None:
                continue
            ids = Queue(queue, connection=self.connection, serializer=JSONSerializer).get_job_ids(0, SCAN_JOBS)
            for job in Job.fetch_many(ids, connection=self.connection, serializer=JSONSerializer):
                waited = _waited_s(job, now)
                if job is None or waited is None or waited < patience or job.get_status() != JobStatus.QUEUED:
                    continue
                reply = _reply_of(job)
                if reply is None or reply.outbox != outbox_name:
                    continue
                if not self.connection.set(f"wait-notice:{job.id}", 1, nx=True, ex=NOTICE_TTL_S):
                    continue  # told already, by this process or another
                outbox.post(self.connection, self.wait_notice(job.id, queue, waited, reply))
                told.append(job.id)
        return told

    def wait_notice(self, job_id: str, queue: str, waited_s: float, reply: ReplyTo) -> OutboxMessage:
        reason = self.unserved(queue)
        if reason:
            hint = f" ({START_HINT})" if self.start_hint else ""
        elif self.live_workers(queue):
            reason, hint = "the workers are busy with other jobs", ""
        else:  # announced, but still loading: a first model download, or a worker failing to start
            reason = f"the worker for {QUEUE_WORK.get(queue, queue)} is still starting"
            hint = " (its log says why)" if self.start_hint else ""
        text = (
            f"Job {job_id} has waited {_duration(waited_s)} in line, much longer than usual: "
            f"{reason}. It stays in line and runs when a worker is free{hint}; /cancel {job_id} drops it."
        )
        return OutboxMessage(kind="text", reply=reply, job_id=job_id, text=text, final=False)

    def watch(self, outbox_name: str, stop: threading.Event, interval_s: float = 5.0) -> threading.Thread:
        """Run :meth:`notify_long_waits` every ``interval_s`` in a daemon thread until ``stop`` is set."""

        def loop() -> None:
            while not stop.wait(interval_s):
                try:
                    self.notify_long_waits(outbox_name)
                except redis.exceptions.RedisError as exc:  # Redis restarting: try again next round
                    logger.warning("cannot look for long-waiting jobs: %s", exc)
                except Exception:  # a bug here must not end the watch for the bot's whole life
                    logger.exception("looking for long-waiting jobs failed")

        thread = threading.Thread(target=loop, name="queue-watch", daemon=True)
        thread.start()
        return thread


def _waited_s(job: Job | None, now: datetime) -> float | None:
    if job is None or job.enqueued_at is None:
        return None
    enqueued = job.enqueued_at if job.enqueued_at.tzinfo else job.enqueued_at.replace(tzinfo=UTC)
    return (now - enqueued).total_seconds()


def _reply_of(job: Job) -> ReplyTo | None:
    try:
        args = job.args
    except DeserializationError:  # not one of our JSON jobs: nobody of ours to tell
        return None
    payload = args[0] if args and isinstance(args[0], dict) else {}
    reply = payload.get("reply")
    if not isinstance(reply, dict):
        return None
    try:
        return ReplyTo.from_dict(reply)
    except TypeError:  # no outbox or chat: a job of another kind, with nobody to tell
        return None


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
