"""Short-lived files (pictures, subtitles) kept in Redis with a TTL, referenced from the outbox."""

from __future__ import annotations

import uuid
from typing import Any

import redis

DEFAULT_TTL_S = 24 * 3600


def store(connection: redis.Redis, data: bytes, ttl_s: int = DEFAULT_TTL_S) -> str:
    key = f"artifact:{uuid.uuid4().hex}"
    connection.set(key, data, ex=ttl_s)
    return key


def load(connection: redis.Redis, key: str) -> bytes | None:
    data: Any = connection.get(key)
    return bytes(data) if data is not None else None
