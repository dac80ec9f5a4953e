"""The web outbox, moved into per-job lists in Redis, so that any web process can answer any session.

One outbox ("web") serves every web process, read with the bots' consumer group: each message is
read by one process, which appends it to ``web:job:<id>`` with its stream entry id and only then
acks it (a process that dies in between leaves the entry pending, claimed by another later). A
browser session's handler, on whichever process the load balancer sent it to, reads its job's
list. Two processes may append one job's messages out of stream order (each read a batch): readers
order them by entry id, and :meth:`WebService.follow` waits a moment after the final one for an
earlier straggler.
"""

from __future__ import annotations

import json
import logging
import threading

import redis

from common.jobs import OutboxMessage
from common.outbox import OutboxReader

logger = logging.getLogger(__name__)

OUTBOX = "web"
KEEP_S = 24 * 3600  # a job's messages (and a user's job list) outlive any page left open for a day
RECENT_JOBS = 20


def job_key(job_id: str) -> str:
    return f"web:job:{job_id}"


def jobs_key(who: str) -> str:
    return f"web:jobs:{who}"


class Results:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def add(self, entry_id: str, message: OutboxMessage) -> None:
        key = job_key(message.job_id or "none")
        pipe = self.connection.pipeline()
        pipe.rpush(key, json.dumps({"entry": entry_id, "message": message.to_dict()}))
        pipe.expire(key, KEEP_S)
        pipe.execute()

    def of_job(self, job_id: str) -> list[tuple[str, OutboxMessage]]:
        """The job's messages so far as (stream entry id, message), in the outbox's order."""
        items = [json.loads(item) for item in self.connection.lrange(job_key(job_id), 0, -1)]
        ordered = sorted(items, key=lambda item: entry_order(item["entry"]))
        return [(item["entry"], OutboxMessage.from_dict(item["message"])) for item in ordered]

    def remember_job(self, who: str, job_id: str, what: str) -> None:
        """A user's (or anonymous session's) recent jobs, newest first, for the queue tab."""
        key = jobs_key(who)
        pipe = self.connection.pipeline()
        pipe.lpush(key, json.dumps({"job": job_id, "what": what}))
        pipe.ltrim(key, 0, RECENT_JOBS - 1)
        pipe.expire(key, KEEP_S)
        pipe.execute()

    def jobs_of(self, who: str) -> list[dict[str, str]]:
        return [json.loads(item) for item in self.connection.lrange(jobs_key(who), 0, -1)]


class OutboxPump:
    """A thread moving the web outbox's entries into :class:`Results`."""

    def __init__(self, reader: OutboxReader, results: Results) -> None:
        self.reader = reader
        self.results = results
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="web-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for entry_id, message in self.reader.read(block_ms=200):
                    self.results.add(entry_id, message)
                    self.reader.ack(entry_id)
            except redis.exceptions.ConnectionError as exc:
                logger.warning("web outbox unreachable, retrying in 1 s: %s", exc)
                self._stop.wait(1)


def entry_order(entry_id: str) -> tuple[int, int]:
    """A stream entry id ("1733580000000-3") as numbers: its milliseconds, then its sequence."""
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)
