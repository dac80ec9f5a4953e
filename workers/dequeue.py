"""Taking a job from several queues without an instant at which it is in no list at all.

RQ's worker on several queues dequeues with BLPOP: the job id leaves the queue before the job is
registered as started, so a worker killed in between leaves the job "queued" in no list and no
registry, never run and never failed (2 of 240 commands under a SIGKILL every 0.7 s). Only a
worker on a single queue moves the id atomically (BLMOVE) into the queue's intermediate list, and
RQ's maintenance recovers it from there after a minute.

Here every take is such a move, from the first non-empty queue in priority order (a Lua script:
LMOVE has one source), with the time of the take in a sorted set beside the intermediate list.
Registering the job (status started, in the started registry) removes both in the same
transaction (HeartbeatWorker.prepare_job_execution). Maintenance retries a job left there longer
than the heartbeat TTL, or fails it and tells its user: the same bound, and the same trade-off
(a process frozen longer than the TTL is taken for dead), as for a job whose heartbeat stopped.

Lua cannot block. With every queue empty, a worker waits in BLMOVE on its first queue for at most
IDLE_POLL_S and then looks at all of them again: a job on the first queue is taken at once, one on
another queue of an idle worker within IDLE_POLL_S.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import redis
from rq.callbacks import execute_failure_callback
from rq.exceptions import AbandonedJobError, DequeueTimeout
from rq.job import Job, JobStatus
from rq.job_lifecycle import record_job_failure
from rq.queue import Queue
from rq.utils import as_text

if TYPE_CHECKING:
    from rq.worker import BaseWorker

logger = logging.getLogger(__name__)

IDLE_POLL_S = 0.1  # an idle worker's longest wait before it looks at its lower-priority queues again

# KEYS: queue, its intermediate list, its take times; then the same for the next queue. ARGV[1]: now.
_TAKE = """
for i = 1, #KEYS, 3 do
  local id = redis.call('LMOVE', KEYS[i], KEYS[i + 1], 'LEFT', 'RIGHT')
  if id then
    redis.call('ZADD', KEYS[i + 2], ARGV[1], id)
    return {KEYS[i], id}
  end
end
return false
"""


def taken_key(queue: Queue) -> str:
    """The sorted set of when each job id in the queue's intermediate list was taken."""
    return f"{queue.intermediate_queue_key}:taken"


class AtomicQueue(Queue):
    """RQ's Queue whose dequeue never leaves a taken job outside a list that maintenance reads."""

    @classmethod
    def dequeue_any(  # type: ignore[override]
        cls,
        queues: Iterable[Queue],
        timeout: int | None,
        connection: redis.Redis,
        job_class: type[Job] | None = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
    ) -> tuple[Job, Queue] | None:
        queues = list(queues)
        keys = [key for queue in queues for key in (queue.key, queue.intermediate_queue_key, taken_key(queue))]
        take = connection.register_script(_TAKE)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            taken = take(keys=keys, args=[time.time()], client=connection)
            if taken:
                queue_key, job_id = map(as_text, taken)
            elif deadline is None:
                return None
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DequeueTimeout(timeout, [queue.key for queue in queues])
                first = queues[0]
                # One queue: wait for it the whole time, as RQ's own single-queue worker does.
                wait = left if len(queues) == 1 else min(IDLE_POLL_S, left)
                moved = connection.blmove(first.key, first.intermediate_queue_key, wait)
                if moved is None:
                    continue
                queue_key, job_id = first.key, as_text(moved)
                # Killed before this stamp, the id is in the list unstamped: maintenance stamps it on sight.
                connection.zadd(taken_key(first), {job_id: time.time()})
            fetched = cls._fetch_dequeued_job(
                connection, queue_key, job_id, job_class=job_class, serializer=serializer,
                death_penalty_class=death_penalty_class,
            )  # fmt: skip
            if fetched is not None:
                return fetched
            # The job's hash is gone (deleted, expired): maintenance drops its id; take the next one.


def recover_taken_jobs(worker: BaseWorker, queue: Queue, older_than_s: float) -> int:
    """Retry, or fail and report, each job taken more than ``older_than_s`` ago and still not registered.

    Runs under the queue's maintenance lock, after RQ's clean-up of the started registry. Returns
    how many jobs were recovered.
    """
    connection = queue.connection
    with connection.pipeline() as pipe:  # one snapshot of both keys
        pipe.lrange(queue.intermediate_queue_key, 0, -1)
        pipe.zrange(taken_key(queue), 0, -1, withscores=True)
        listed, stamped = pipe.execute()
    in_list = {as_text(job_id) for job_id in listed}
    stamps = {as_text(job_id): score for job_id, score in stamped}
    now = time.time()
    unstamped = {job_id: now for job_id in in_list - stamps.keys()}
    if unstamped:  # the clock of an id moved by BLMOVE just before a kill starts now
        connection.zadd(taken_key(queue), unstamped, nx=True)
    stale = [job_id for job_id, at in stamps.items() if job_id not in in_list and at < now - older_than_s]
    if stale:
        connection.zrem(taken_key(queue), *stale)
    recovered = 0
    for job_id in sorted(in_list & stamps.keys()):
        if stamps[job_id] < now - older_than_s:
            recovered += _recover(worker, queue, job_id)
    return recovered


def _recover(worker: BaseWorker, queue: Queue, job_id: str) -> bool:
    connection = queue.connection
    if job_id in queue.started_job_registry:
        return False  # registered by a worker that then died: RQ's clean-up of that registry comes first
    job = queue.fetch_job(job_id)
    action = "dropped"  # a stale id: the job is gone, running or done
    with connection.pipeline() as pipe:
        try:
            if job is not None:
                # A worker that registers it meanwhile (a frozen one, woken) writes the job: then we back off.
                pipe.watch(job.key)
                job.refresh()
            pipe.multi()
            pipe.lrem(queue.intermediate_queue_key, 1, job_id)
            pipe.zrem(taken_key(queue), job_id)
            if job is not None and job.get_status(refresh=False) == JobStatus.QUEUED:
                if job.retries_left:
                    job.retry(queue, pipe)
                    action = "retried"
                else:
                    record_job_failure(job, "taken by a worker that died before it started", pipe)
                    action = "failed"
            pipe.execute()
        except redis.exceptions.WatchError:
            return False
    if job is None or action == "dropped":
        return False
    logger.warning("job %s was taken by a worker that died before it started it: %s", job_id, action)
    if action == "failed":
        try:  # the user's "failed: the worker running it stopped" (workers/failures.py)
            execute_failure_callback(job, worker.death_penalty_class, AbandonedJobError, AbandonedJobError(), None)
        except Exception:
            logger.exception("failure callback of job %s raised", job_id)
    return True
