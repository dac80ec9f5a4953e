"""Workers that are loading their models: RQ registers a worker only once it takes jobs.

A worker process loads its models first (seconds for Iris and Titanic, minutes for a speech model's
first download). Meanwhile it announces itself here, so that a bot does not tell users that no
worker serves their queue, nor give up on a job that is about to run. An announcement lapses
``ttl_s`` after its last renewal, so a process that dies while loading drops out on its own.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

import redis

KEY = "workers:starting:{queue}"  # a sorted set: member = host:pid, score = expiry (epoch seconds)


def count(connection: redis.Redis, queue: str) -> int:
    """Worker processes announced for ``queue`` whose announcement has not lapsed."""
    return int(connection.zcount(KEY.format(queue=queue), time.time(), "+inf"))


class StartingWorker:
    """Announce this process for ``queues`` from :meth:`start` until :meth:`stop`, renewed by a thread."""

    def __init__(self, connection: redis.Redis, queues: list[str], ttl_s: float = 15.0) -> None:
        self.connection = connection
        self.queues = queues
        self.ttl_s = ttl_s
        self.member = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="starting-worker", daemon=True)

    def start(self) -> None:
        self._announce()
        self._thread.start()

    def stop(self, linger_s: float = 2.0) -> None:
        """Stop renewing; the announcement lapses ``linger_s`` later, by when RQ has registered the worker."""
        self._stop.set()
        self._thread.join(timeout=self.ttl_s)
        self._announce(linger_s)

    def announce_once(self) -> None:
        """Announce without renewal: it lapses after ``ttl_s`` unless :meth:`withdraw` comes first."""
        self._announce()

    def withdraw(self) -> None:
        """Remove the announcement now; with Redis away it lapses on its own."""
        pipe = self.connection.pipeline(transaction=False)
        for queue in self.queues:
            pipe.zrem(KEY.format(queue=queue), self.member)
        with contextlib.suppress(redis.exceptions.RedisError):
            pipe.execute()

    def _announce(self, ttl_s: float | None = None) -> None:
        now = time.time()
        pipe = self.connection.pipeline(transaction=False)
        for queue in self.queues:
            key = KEY.format(queue=queue)
            pipe.zadd(key, {self.member: now + (self.ttl_s if ttl_s is None else ttl_s)})
            pipe.zremrangebyscore(key, "-inf", now)  # lapsed announcements of dead processes
        pipe.execute()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            # Redis restarting: the next renewal catches up before the announcement lapses.
            with contextlib.suppress(redis.exceptions.RedisError):
                self._announce()
