"""Everything a worker says to a user goes through an outbox: one Redis Stream per front end.

Bots read with a consumer group and acknowledge an entry only after the platform accepted it,
so a bot killed mid-delivery sends it after restart (at-least-once). Entries that another,
dead consumer had read are claimed after ``claim_idle_ms``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from typing import Any

import redis

from common.jobs import OutboxMessage

logger = logging.getLogger(__name__)

STREAM_PREFIX = "outbox:"
MAX_ENTRIES = 100_000


def stream_name(outbox: str) -> str:
    return STREAM_PREFIX + outbox


def post(connection: redis.Redis, message: OutboxMessage) -> str:
    """Append a message to the outbox named in its reply address."""
    stream = stream_name(message.reply.outbox)
    entry_id = connection.xadd(stream, {"data": json.dumps(message.to_dict())}, maxlen=MAX_ENTRIES, approximate=True)
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


class OutboxReader:
    """One consumer of one outbox's consumer group."""

    def __init__(
        self,
        connection: redis.Redis,
        outbox: str,
        *,
        consumer: str | None = None,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self.connection = connection
        self.stream = stream_name(outbox)
        self.group = "bots"
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.claim_idle_ms = claim_idle_ms
        self._own_pending_done = False
        self._create_group()

    def read(self, block_ms: int = 1000, count: int = 50) -> list[tuple[str, OutboxMessage]]:
        """Next messages: first our own unacknowledged ones, then stale ones of dead consumers, then new."""
        try:
            return self._read(block_ms, count)
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # The stream or its group is gone (a Redis restarted without persistence, or the key
            # deleted): start again from what the stream holds now.
            logger.warning("outbox %s lost its consumer group; creating it again", self.stream)
            self._create_group()
            return []

    def _create_group(self) -> None:
        try:
            self.connection.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _read(self, block_ms: int, count: int) -> list[tuple[str, OutboxMessage]]:
        if not self._own_pending_done:
            entries = self._read_group("0", count, block_ms=None)
            if entries:
                return entries
            self._own_pending_done = True
        claimed = self._claim_stale(count)
        if claimed:
            return claimed
        return self._read_group(">", count, block_ms=block_ms)

    def ack(self, entry_id: str) -> None:
        self.connection.xack(self.stream, self.group, entry_id)

    def _read_group(self, start: str, count: int, block_ms: int | None) -> list[tuple[str, OutboxMessage]]:
        response: Any = self.connection.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=count, block=block_ms
        )
        return [_decode(entry_id, fields) for _, entries in response or [] for entry_id, fields in entries if fields]

    def _claim_stale(self, count: int) -> list[tuple[str, OutboxMessage]]:
        response: Any = self.connection.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_time=self.claim_idle_ms, count=count
        )
        entries = response[1]
        return [_decode(entry_id, fields) for entry_id, fields in entries if fields]


def _decode(entry_id: bytes | str, fields: dict[bytes, bytes]) -> tuple[str, OutboxMessage]:
    key = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return key, OutboxMessage.from_dict(json.loads(fields[b"data"]))
