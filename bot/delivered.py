"""Which parts of each job's answer a front end delivered: the guard that shows each part once.

A part's key is the job id and the part's name (``verdict``, ``picture``, ``file:x.srt``, then the
piece of a text the platform's limit split). Before sending a piece the bot claims its key in Redis,
after the platform accepted it marks it sent; a repeat (the job ran twice, its render job ran twice,
the outbox entry is read again after a restart) finds the mark and is dropped.

A claim left by this consumer (the same name after a restart, see ``consumer_slot``) is taken again at
once, and one left by another consumer once it is ``stale_s`` old: that piece may have reached the
chat just before the kill, and sending it again is the one repeat left (the platforms take no
idempotency key). A fresh claim of another consumer means it is sending that piece now (it claimed
our entry while we waited on a 429): the entry waits.
"""

from __future__ import annotations

import time

import redis

from common.jobs import OutboxMessage
from common.metrics import events as metric_events

TTL_S = 24 * 3600  # a job runs again within minutes (a lost worker, a Redis outage); a day is ample
CLAIM_STALE_S = 120.0  # longer than a send with its retries normally takes
SENT = "sent"
ANSWERED = "answered"  # the field set once the job's final message was delivered

# KEYS[1]: the job's hash. ARGV: field, consumer, now, stale_s, ttl_s. 1: ours to send, 0: sent, -1: in flight.
CLAIM_SCRIPT = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held == 'sent' then return 0 end
if held then
  local owner, at = string.match(held, '^(.*) (%S+)$')
  if owner ~= ARGV[2] and tonumber(ARGV[3]) - tonumber(at) < tonumber(ARGV[4]) then return -1 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class InFlight(Exception):
    """Another consumer is sending this piece right now."""


class DeliveredParts:
    def __init__(self, connection: redis.Redis, outbox: str, consumer: str, *, stale_s: float = CLAIM_STALE_S) -> None:
        self.connection = connection
        self.prefix = f"delivered:{outbox}:"
        self.platform = metric_events.platform_of(outbox)
        self.consumer = consumer
        self.stale_s = stale_s
        self._claim = connection.register_script(CLAIM_SCRIPT)

    def key(self, message: OutboxMessage, entry_id: str) -> str:
        """Per job; a message of no job (a monitoring post) by its outbox entry."""
        return self.job_key(message.job_id) if message.job_id else f"{self.prefix}entry:{entry_id}"

    def job_key(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def claim(self, key: str, piece: str) -> bool:
        """True: ours to send now; False: sent before. Raises InFlight while another sends it."""
        result = int(self._claim(keys=[key], args=[piece, self.consumer, f"{time.time():.3f}", self.stale_s, TTL_S]))
        if result < 0:
            raise InFlight(piece)
        if result == 0:
            metric_events.repeat_dropped(self.platform)
        return result == 1

    def mark(self, key: str, *pieces: str) -> None:
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping=dict.fromkeys(pieces, SENT))
            pipe.expire(key, TTL_S)
            pipe.execute()

    def answered(self, key: str) -> bool:
        """The job's final message was delivered (a failure reported after it would be a second answer)."""
        return self.connection.hget(key, ANSWERED) is not None


def part_name(message: OutboxMessage) -> str:
    """The worker's name for the part, else one made of its kind and file name (stable across reruns)."""
    if message.part:
        return message.part
    return f"{message.kind}:{message.filename}" if message.filename else message.kind
