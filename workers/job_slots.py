"""Several speech jobs at once in one worker process: threads that are RQ workers of their own.

A speech worker keeps its model busy with the windows of every job it holds
(workers/speech/batcher.py), up to ASR_JOBS_AT_ONCE jobs. The process's main worker is one of
them; each further slot is a HeartbeatWorker on the transcribe queue in a thread of the same
process, sharing the model. A slot takes a job with the same atomic move as every worker
(workers/dequeue.py), registers it with its own heartbeat and runs it through RQ's own job
handling (result, retries, failure callbacks), so a job fails or succeeds alone.

A process killed while it holds several jobs loses none of them: each one is in the queue's
intermediate list (taken, not registered yet) or in the started registry with a heartbeat that
stops with the process, and maintenance retries or fails each (tests/test_job_slots.py).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from rq.job import Job
from rq.queue import Queue
from rq.timeouts import TimerDeathPenalty

from workers.heartbeat import HeartbeatWorker

logger = logging.getLogger(__name__)

STOP_CHECK_S = 1  # an idle slot looks at its stop flag this often


class SlotWorker(HeartbeatWorker):
    """A worker that runs in a thread other than the main one: no signals of its own."""

    # RQ's default timeout uses SIGALRM, which only the main thread can receive.
    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        """The main thread's worker receives SIGTERM and SIGINT and stops the slots (JobSlots.stop)."""

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        # RQ waits up to its dequeue timeout (tens of seconds) before it looks at the stop flag again.
        while not self._stop_requested:
            if timeout is None:  # burst: the queue is looked at once
                return super().dequeue_job_and_maintain_ttl(None, max_idle_time)
            taken = super().dequeue_job_and_maintain_ttl(STOP_CHECK_S, STOP_CHECK_S)
            if taken is not None:
                return taken
        return None


class JobSlots:
    """``count`` slot workers in threads, started at once, stopped after the job each one runs."""

    def __init__(self, count: int, queues: list[str], **worker_options: Any) -> None:
        self.workers = [SlotWorker(queues, **worker_options) for _ in range(count)]
        self.threads: list[threading.Thread] = []

    def start(self, *, burst: bool) -> None:
        for number, worker in enumerate(self.workers, start=2):  # the main worker is slot 1
            thread = threading.Thread(target=self._work, args=(worker, burst), name=f"job-slot-{number}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """No slot takes another job; each finishes the one it runs (a warm shutdown, as RQ's)."""
        for worker in self.workers:
            worker._stop_requested = True

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    @staticmethod
    def _work(worker: SlotWorker, burst: bool) -> None:
        try:
            worker.work(burst=burst, logging_level="WARNING")
        except Exception:  # RQ's loop logs a job's errors itself; this is the slot's own end
            logger.exception("job slot %s stopped", worker.name)
