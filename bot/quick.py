"""A prediction answered in one message: the bot holds its acknowledgement for about a second.

A verdict and its picture are usually ready within a few hundred milliseconds; an acknowledgement,
its edit into the verdict and the photo captioned with the verdict again cost three sends and show
the verdict twice. So for a quick job the adapter does not send the acknowledgement but *holds* it
here (a record in Redis, since any bot process may deliver the job's answers):

- the verdict arrives while held: it is parked in the record (its outbox entry is acked), and if
  the picture has not followed within ``ACTION_AFTER_S`` the chat is shown an "uploading" action;
- the picture (or a verdict without picture) arrives while held: whoever takes the record sends one
  message, the picture with the verdict as caption;
- the deadline passes first: the watcher of some bot process takes the record and sends the parked
  verdict, or else the acknowledgement; from there on the job is delivered as any other (edits
  into that message, the picture after it).

Taking the record is atomic, so exactly one of these happens; a taker killed before it answered
leaves it to be taken again after ``LEASE_S`` (the parts sent meanwhile are skipped then,
bot.delivered). On Discord the adapter defers the
interaction (its "thinking" placeholder answers within the 3 s) and the held record names it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis

from bot.platform import Ack
from common.jobs import OutboxMessage, ReplyTo

WINDOW_S = 1.0  # how long the acknowledgement waits for the answer
ACTION_AFTER_S = 0.4  # a parked verdict whose picture is this late shows the chat an upload action
RECORD_TTL_S = 24 * 3600
LEASE_S = 30.0  # a taker killed before it answered: the record is taken again after this

# KEYS: record, due set. ARGV: job, now, lease. The record's fields, or nil when it is not ours to take:
# taken by another, unless that one's lease ran out (killed between taking and sending).
TAKE_SCRIPT = """
local state = redis.call('HGET', KEYS[1], 'state')
local now = tonumber(ARGV[2])
if state ~= 'held' and not (state == 'taken' and tonumber(redis.call('HGET', KEYS[1], 'until')) < now) then
  return nil
end
redis.call('HSET', KEYS[1], 'state', 'taken', 'until', now + tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""
# KEYS: record, due set. ARGV: job, verdict JSON, action time. 1 when parked.
PARK_SCRIPT = """
if redis.call('HGET', KEYS[1], 'state') ~= 'held' then return 0 end
redis.call('HSET', KEYS[1], 'verdict', ARGV[2])
local deadline = tonumber(redis.call('HGET', KEYS[1], 'deadline'))
redis.call('ZADD', KEYS[2], math.min(deadline, tonumber(ARGV[3])), ARGV[1])
return 1
"""


@dataclass
class Held:
    """What a held record says: where to answer, the acknowledgement's text, a parked verdict."""

    reply: ReplyTo
    text: str
    placeholder: Ack | None  # Discord's deferred interaction response
    verdict: OutboxMessage | None
    deadline: float


class QuickAnswers:
    def __init__(self, connection: redis.Redis, outbox: str, window_s: float = WINDOW_S) -> None:
        self.connection = connection
        self.prefix = f"quick:{outbox}:"
        self.due = f"quick:{outbox}"
        self.window_s = window_s
        self._take = connection.register_script(TAKE_SCRIPT)
        self._park = connection.register_script(PARK_SCRIPT)

    def hold(self, job_id: str, reply: ReplyTo, text: str, placeholder: Ack | None = None) -> None:
        """The adapter's part: instead of sending ``text`` (the acknowledgement) now."""
        deadline = time.time() + self.window_s
        fields: dict[Any, Any] = {  # redis-py types the mapping's keys invariantly
            "state": "held",
            "reply": json.dumps(reply.to_dict()),
            "text": text,
            "deadline": deadline,
        }
        if placeholder is not None:
            fields["placeholder"] = json.dumps(asdict(placeholder))
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.hset(self.prefix + job_id, mapping=fields)
            pipe.expire(self.prefix + job_id, RECORD_TTL_S)
            pipe.zadd(self.due, {job_id: deadline})
            pipe.execute()

    def park(self, message: OutboxMessage) -> bool:
        """Keep a verdict that came while the acknowledgement is held; False: deliver it as usual."""
        if not message.job_id:
            return False
        verdict = json.dumps(message.to_dict())
        keys = [self.prefix + message.job_id, self.due]
        return bool(self._park(keys=keys, args=[message.job_id, verdict, time.time() + ACTION_AFTER_S]))

    def take(self, job_id: str) -> Held | None:
        """The held record, now ours alone to answer; None when it is not held (or never was)."""
        if not job_id:
            return None
        raw = self._take(keys=[self.prefix + job_id, self.due], args=[job_id, time.time(), LEASE_S])
        if not raw:
            return None
        fields = {raw[i].decode(): raw[i + 1].decode() for i in range(0, len(raw), 2)}
        return Held(
            reply=ReplyTo.from_dict(json.loads(fields["reply"])),
            text=fields["text"],
            placeholder=Ack(**json.loads(fields["placeholder"])) if "placeholder" in fields else None,
            verdict=OutboxMessage.from_dict(json.loads(fields["verdict"])) if "verdict" in fields else None,
            deadline=float(fields["deadline"]),
        )

    def hold_again(self, job_id: str, delay_s: float = 5.0) -> None:
        """A taken record whose answer could not be sent: held again, due in ``delay_s``."""
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.hset(self.prefix + job_id, mapping={"state": "held", "deadline": time.time() + delay_s})
            pipe.zadd(self.due, {job_id: time.time() + delay_s})
            pipe.execute()

    def done(self, job_id: str) -> None:
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.delete(self.prefix + job_id)
            pipe.zrem(self.due, job_id)
            pipe.execute()

    def due_now(self, limit: int = 50) -> list[str]:
        """Jobs whose deadline (or upload action) is due."""
        jobs: Any = self.connection.zrangebyscore(self.due, "-inf", time.time(), 0, limit)
        return [job.decode() for job in jobs]

    def early(self, job_id: str) -> tuple[bool, ReplyTo | None]:
        """Before the deadline (an upload action's time): True, and the chat to show it in, once."""
        key = self.prefix + job_id
        state, deadline, reply = self.connection.hmget(key, ["state", "deadline", "reply"])
        if state != b"held" or deadline is None or reply is None or time.time() >= float(deadline):
            return False, None
        self.connection.zadd(self.due, {job_id: float(deadline)})  # next: the deadline itself
        if not self.connection.hsetnx(key, "action", 1):
            return True, None  # another bot process shows it
        return True, ReplyTo.from_dict(json.loads(reply))
