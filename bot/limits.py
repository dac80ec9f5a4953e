"""Admission control before a job is queued: a per-user rate limit and a maximum queue length.

Both raise :class:`common.errors.Busy`, whose text is the friendly reply and whose
``retry_after`` says when to try again. The rate limit is a sliding window kept in Redis (one
sorted set per user), so every bot process of a platform sees the same count.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis

from bot.replies import queue_full, too_many_jobs
from common.errors import Busy
from common.queues import JobQueue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LimitOptions:
    jobs_per_window: int = 10  # per user
    window_s: float = 60.0
    max_queue_length: int = 100  # jobs waiting in one queue
    queue_full_retry_s: int = 30  # what a "queue full" answer suggests; no better estimate is at hand


class Limits:
    def __init__(
        self,
        connection: redis.Redis,
        queue: JobQueue,
        options: LimitOptions | None = None,
        clock: Callable[[], float] = time.time,  # epoch seconds; tests move it instead of sleeping
    ) -> None:
        self.connection = connection
        self.queue = queue
        self.options = options or LimitOptions()
        self.clock = clock

    def admit(self, user: str, queue: str) -> None:
        """Count one job for ``user`` (e.g. "telegram:42") on ``queue``, or raise Busy."""
        waiting = self.queue.waiting(queue)
        if waiting >= self.options.max_queue_length:
            logger.warning("queue %s is full (%d waiting): refusing a job of %s", queue, waiting, user)
            raise Busy(queue_full(self.options.queue_full_retry_s), self.options.queue_full_retry_s)
        self._count(user)

    def _count(self, user: str) -> None:
        """Add this job to the user's window first, then look: two racing requests never both slip past."""
        key = f"limit:jobs:{user}"
        now = self.clock()
        member = f"{now:.6f}-{uuid.uuid4().hex[:6]}"
        pipe = self.connection.pipeline()
        pipe.zremrangebyscore(key, 0, now - self.options.window_s)
        pipe.zadd(key, {member: now})
        pipe.zcard(key)
        pipe.expire(key, math.ceil(self.options.window_s))
        _, _, count, _ = pipe.execute()
        if count <= self.options.jobs_per_window:
            return
        self.connection.zrem(key, member)
        oldest = self.connection.zrange(key, 0, 0, withscores=True)
        started = float(oldest[0][1]) if oldest else now
        retry_after = max(1, math.ceil(started + self.options.window_s - now))
        raise Busy(too_many_jobs(self.options.jobs_per_window, self.options.window_s, retry_after), retry_after)
