"""At most N YouTube downloads at a time over every worker that shares one Redis.

YouTube answers a data-centre address that downloads a lot with "Sign in to confirm you're not a
bot". The slots are a counting semaphore in Redis: a sorted set of holder ids scored by the time
their lease runs out. Taking a slot is one Lua script (drop expired leases, count, add), so two
workers never take the last slot together; times come from the Redis server's clock, so workers on
machines with skewed clocks agree. A holder renews its lease while it downloads; one that dies
without releasing (SIGKILL, a lost machine) frees its slot when the lease runs out.

A job waiting for a slot shows it in its progress message and stays cancellable; it gives up with a
clear message after ``max_wait_s`` (RQ's job timeout ends it earlier where that is shorter).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from common.errors import VideoRejected
from common.metrics import events as metric_events
from common.settings import VideoSettings

logger = logging.getLogger(__name__)

SLOTS_KEY = "speech:youtube:download-slots"

# KEYS[1] the set; ARGV: holder, limit, lease in ms. 1 when the holder has a slot now.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
  return 1
end
return 0
"""
# Extends a lease that has not run out yet; 0 when it had (the slot may belong to another job now).
_RENEW = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
local until_ms = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not until_ms or tonumber(until_ms) <= now_ms then
  return 0
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
"""
# Leases that have not run out: what `--check` shows, without purging anything.
_IN_USE = """
local now = redis.call('TIME')
return redis.call('ZCOUNT', KEYS[1], '(' .. (now[1] * 1000 + math.floor(now[2] / 1000)), '+inf')
"""


@dataclass(frozen=True)
class YoutubePacing:
    """How a worker paces its YouTube downloads; built from VideoSettings at the entry point."""

    slots: int = 2  # downloads at a time over all workers sharing the Redis
    sleep_s: float = 0.75  # between one worker's requests to YouTube (yt-dlp's "-t sleep" preset)
    lease_s: float = 60.0  # a dead holder's slot is free again after this long
    max_wait_s: float = 600.0  # a job waiting longer for a slot gives up
    poll_s: float = 0.5  # how often a waiting job asks again
    retry_after_s: float = 5.0  # the pause before the one retry of an HTTP 403/429
    # Hosts paced like YouTube although they are not YouTube (tests pace 127.0.0.1).
    also_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, video: VideoSettings) -> YoutubePacing:
        return cls(slots=video.YOUTUBE_CONCURRENT_DOWNLOADS, sleep_s=video.YOUTUBE_SLEEP_S)


class DownloadSlots:
    """The Redis semaphore; ``holder`` ids are unique per acquisition."""

    def __init__(self, connection: redis.Redis, limit: int, lease_s: float, key: str = SLOTS_KEY) -> None:
        self.connection = connection
        self.limit = limit
        self.lease_ms = max(1, int(lease_s * 1000))
        self.key = key
        self._acquire = connection.register_script(_ACQUIRE)
        self._renew = connection.register_script(_RENEW)
        self._in_use = connection.register_script(_IN_USE)

    @staticmethod
    def new_holder() -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"

    def try_acquire(self, holder: str) -> bool:
        return bool(self._acquire(keys=[self.key], args=[holder, self.limit, self.lease_ms]))

    def renew(self, holder: str) -> bool:
        return bool(self._renew(keys=[self.key], args=[holder, self.lease_ms]))

    def release(self, holder: str) -> None:
        self.connection.zrem(self.key, holder)

    def in_use(self) -> int:
        return int(self._in_use(keys=[self.key]))

    @contextmanager
    def hold(
        self,
        *,
        max_wait_s: float,
        poll_s: float = 0.5,
        on_wait: Callable[[float], None] = lambda waited_s: None,
    ) -> Iterator[str]:
        """Wait for a slot (calling ``on_wait`` with the seconds waited, which may raise to stop), hold it
        with its lease renewed in the background, release it on the way out, exceptions included."""
        holder = self.new_holder()
        started = time.monotonic()
        while not self.try_acquire(holder):
            waited = time.monotonic() - started
            if waited >= max_wait_s:
                logger.warning("gave up on a YouTube download slot after %.0f s (%d in use)", waited, self.limit)
                raise VideoRejected(
                    f"YouTube downloads on this server were busy for over {max_wait_s / 60:.0f} min; "
                    "please try again later."
                )
            on_wait(waited)
            time.sleep(poll_s)
        metric_events.youtube_slot_wait(time.monotonic() - started)
        stop = threading.Event()
        renewer = threading.Thread(target=self._keep, args=(holder, stop), name="slot-lease", daemon=True)
        renewer.start()
        try:
            yield holder
        finally:
            stop.set()
            renewer.join()
            self.release(holder)

    def _keep(self, holder: str, stop: threading.Event) -> None:
        # Three renewals per lease: one lost to a slow Redis still leaves the lease alive.
        while not stop.wait(self.lease_ms / 3000):
            try:
                if not self.renew(holder):
                    logger.warning("the lease of YouTube download slot %s ran out before its download ended", holder)
                    return
            except redis.RedisError as exc:  # the next renewal may get through; the lease covers the gap
                logger.warning("could not renew YouTube download slot %s: %s", holder, exc)
