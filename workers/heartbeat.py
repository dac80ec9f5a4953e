"""An RQ SimpleWorker that notices, within seconds, a job whose worker process died.

RQ finds abandoned jobs in a queue's StartedJobRegistry: an entry whose execution heartbeat
expired. RQ's SimpleWorker runs the job in its own thread and sends no heartbeat while it runs, so
it registers each job for its whole timeout plus a minute; with the default ten-minute maintenance
interval, a job of a SIGKILLed worker was picked up again 4 to 14 minutes later. Here a small thread
renews a short heartbeat while the job runs, and idle workers run RQ's maintenance (which retries
abandoned jobs that have tries left and fails the others) every ``maintenance_interval`` seconds.

The heartbeat TTL must stay well above its renewal interval: a live job whose heartbeat lapsed
(a process frozen for longer than the TTL) is taken for abandoned and runs a second time.

A job taken but not yet registered (a worker killed between the two) is in an intermediate list,
never in no list at all (workers/dequeue.py); maintenance recovers it within the same bound.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from rq import SimpleWorker, worker_registration
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.registry import clean_registries
from rq.utils import now
from rq.worker import WorkerStatus

from common import durations, usage
from common.metrics import events as metric_events
from common.queues import TRANSCRIBE
from workers.dequeue import AtomicQueue, recover_taken_jobs, taken_key

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class Liveness:
    """How fast a dead worker's job is taken over (defaults: within about 90 s)."""

    heartbeat_ttl: int = 60  # seconds a running job stays registered without a heartbeat
    maintenance_interval: int = 30  # seconds between two searches for abandoned jobs

    def __post_init__(self) -> None:
        if self.heartbeat_ttl < 1 or self.maintenance_interval < 1:
            raise ValueError("heartbeat_ttl and maintenance_interval must be at least 1 second")

    @property
    def beat_every(self) -> float:
        return self.heartbeat_ttl / 4


class HeartbeatWorker(SimpleWorker):
    # While Redis is away, RQ retries with doubling waits; capped here so that a worker is back at
    # work within seconds of a long outage's end (RQ's cap is a minute).
    max_connection_wait_time = 10.0
    queue_class = AtomicQueue  # a take is an atomic move into an intermediate list, from any of the queues

    def __init__(
        self, queues: list[str], *, connection: redis.Redis, liveness: Liveness, pause_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        # An idle worker blocks in BLPOP for worker_ttl - 15 s and only looks at the maintenance
        # clock between two waits: that wait must not outlast the maintenance interval.
        super().__init__(
            queues, connection=connection, maintenance_interval=liveness.maintenance_interval,
            worker_ttl=liveness.maintenance_interval + 15, **kwargs,
        )
        self.liveness = liveness
        # A test hook: the worker that deletes this key stops itself (SIGSTOP) between taking a job
        # and registering it, the instant at which RQ's BLPOP dequeue lost a killed worker's job.
        self.pause_key = pause_key
        self._heartbeat: _Heartbeat | None = None
        self._last_beat = float("-inf")
        self.on_stop: list[Callable[[], None]] = []  # told of a stop signal: the process's job slots

    def request_stop(self, signum: Any, frame: Any) -> None:
        for stop in self.on_stop:  # the other job slots of this process take no new job either
            stop()
        super().request_stop(signum, frame)

    def stop_on_signals_before_work(self) -> None:
        """From now until RQ's own handlers: SIGTERM or SIGINT stops this worker at its loop's first round.

        RQ registers a worker first and installs its stop handlers only after: a stop signal in
        between killed the process still registered, and the bots counted a worker that was gone
        for worker_ttl + 60 s. Call it in the main thread before any worker of the process registers.
        """

        def stop_soon(_signum: int, _frame: Any) -> None:
            for stop in self.on_stop:
                stop()
            self._stop_requested = True  # RQ's loop looks at it before it takes a job

        signal.signal(signal.SIGTERM, stop_soon)
        signal.signal(signal.SIGINT, stop_soon)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        # RQ renews the worker's own key several times per job, three round trips each time outside
        # a pipeline; with jobs of a millisecond that is a fifth of a job's cost. Once a second keeps
        # the worker just as alive (its TTL is tens of seconds).
        if pipeline is None and timeout is None and time.monotonic() - self._last_beat < 1.0:
            return
        super().heartbeat(timeout, pipeline)
        self._last_beat = time.monotonic()

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return self.liveness.heartbeat_ttl

    def unsubscribe(self) -> None:
        # RQ unsubscribes, then stops its pubsub thread. That thread reads the unsubscribe reply and,
        # when it loops before the stop flag is set (a busy machine: 2 stops in 7), waits 60 s for a
        # subscription that never comes, while redis-py 8's stop() joins it without a timeout: a
        # worker told to stop took a minute. The flag first, then the reply that wakes the thread.
        if self.pubsub_thread:
            self.pubsub_thread.stop(timeout=0)
            self.pubsub.unsubscribe()
            self.pubsub_thread.join(timeout=1)  # a daemon thread: it cannot keep the process alive
            self.pubsub.close()

    def clean_registries(self) -> None:
        # RQ's own, with our recovery of taken, unregistered jobs instead of RQ's (which waits a
        # minute and, retries used up, fails a job without its failure callback: no word to the user).
        for queue in self.queues:
            if queue.acquire_maintenance_lock():
                clean_registries(queue, self._exc_handlers)
                worker_registration.clean_worker_registry(queue)
                recover_taken_jobs(self, queue, older_than_s=self.liveness.heartbeat_ttl)
                queue.release_maintenance_lock()
        self.last_cleaned_at = now()

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        # RQ's, but it always leaves the intermediate list (RQ does only for a single-queue worker),
        # in the transaction that marks the job started: at no instant is it in neither.
        with self.connection.pipeline() as pipeline:
            heartbeat_ttl = self.get_heartbeat_ttl(job)
            self.heartbeat(heartbeat_ttl, pipeline=pipeline)
            job.heartbeat(now(), heartbeat_ttl, pipeline=pipeline)
            job.prepare_for_execution(self.name, pipeline=pipeline)
            pipeline.persist(job.key)
            queue = self.queue_class(job.origin, connection=self.connection)
            pipeline.lrem(queue.intermediate_queue_key, 1, job.id)
            pipeline.zrem(taken_key(queue), job.id)
            pipeline.execute()
        self.procline(f"Processing {job.func_name} from {job.origin} since {time.time()}")

    def handle_job_success(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> None:
        super().handle_job_success(job, queue, *args, **kwargs)
        _record_duration(self.connection, job, queue)
        metric_events.job_succeeded(job)

    def execute_job(self, job: Job, queue: Queue) -> None:
        if self.pause_key and self.connection.delete(self.pause_key):
            os.kill(os.getpid(), signal.SIGSTOP)
        execution = self.prepare_execution(job)
        if self._heartbeat is None:
            self._heartbeat = _Heartbeat(self, self.liveness.beat_every)
            self._heartbeat.start()
        self._heartbeat.watch((job, execution))
        try:
            self.perform_job(job, queue, execution)
        finally:
            self._heartbeat.watch(None)
        self.set_state(WorkerStatus.IDLE)


def _record_duration(connection: redis.Redis, job: Job, queue: Queue) -> None:
    """The run's time for the bots' waiting times and /stats; a speech job's with its audio length, unless cached."""
    if job.started_at is None or job.ended_at is None:
        return
    audio_s = None
    if queue.name == TRANSCRIBE:
        result = job.return_value()
        if not isinstance(result, dict) or result.get("cached") or not result.get("audio_s"):
            return  # answered from the cache (or cancelled): says nothing of the next job's time
        audio_s = float(result["audio_s"])
    run_s = (job.ended_at - job.started_at).total_seconds()
    wait_s = (job.started_at - job.enqueued_at).total_seconds() if job.enqueued_at else 0.0
    try:
        durations.record(connection, queue.name, run_s, audio_s)
        usage.ran(connection, queue.name, max(0.0, wait_s), run_s, audio_s)
    except redis.RedisError as exc:  # figures for estimates and /stats: never worth failing a finished job
        logger.warning("could not record the run time of job %s: %s", job.id, exc)


class _Heartbeat(threading.Thread):
    """One thread per worker process (not one per job: predictions take a millisecond) that renews
    the registration of the job running now, if any."""

    def __init__(self, worker: HeartbeatWorker, every: float) -> None:
        super().__init__(name="job-heartbeat", daemon=True)
        self.worker, self.every = worker, every
        self._running: tuple[Job, Execution] | None = None
        self._lock = threading.Lock()

    def watch(self, running: tuple[Job, Execution] | None) -> None:
        with self._lock:  # waits for a beat in progress: none is sent for a job after it was cleared
            self._running = running

    def run(self) -> None:
        while True:
            time.sleep(self.every)
            with self._lock:
                if self._running is None:
                    continue
                job, execution = self._running
                try:
                    self.worker.maintain_heartbeats(job, execution)
                except redis.exceptions.RedisError as exc:
                    # Redis is away: the next beat tries again; the job itself decides whether to fail.
                    logger.warning("heartbeat of job %s not sent: %s", job.id, exc)
