"""An RQ SimpleWorker that notices, within seconds, a job whose worker process died.

RQ finds abandoned jobs in a queue's StartedJobRegistry: an entry whose execution heartbeat
expired. RQ's SimpleWorker runs the job in its own thread and sends no heartbeat while it runs, so
it registers each job for its whole timeout plus a minute; with the default ten-minute maintenance
interval, a job of a SIGKILLed worker was picked up again 4 to 14 minutes later. Here a small thread
renews a short heartbeat while the job runs, and idle workers run RQ's maintenance (which retries
abandoned jobs that have tries left and fails the others) every ``maintenance_interval`` seconds.

The heartbeat TTL must stay well above its renewal interval: a live job whose heartbeat lapsed
(a process frozen for longer than the TTL) is taken for abandoned and runs a second time.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
from rq import SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.worker import WorkerStatus

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

    def __init__(self, queues: list[str], *, connection: redis.Redis, liveness: Liveness, **kwargs: Any) -> None:
        # An idle worker blocks in BLPOP for worker_ttl - 15 s and only looks at the maintenance
        # clock between two waits: that wait must not outlast the maintenance interval.
        super().__init__(
            queues, connection=connection, maintenance_interval=liveness.maintenance_interval,
            worker_ttl=liveness.maintenance_interval + 15, **kwargs,
        )
        self.liveness = liveness
        self._heartbeat: _Heartbeat | None = None
        self._last_beat = float("-inf")

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

    def execute_job(self, job: Job, queue: Queue) -> None:
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
