"""Finished transcripts by (source, task, language, model): the same request is answered without work."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

import redis

from workers.speech.backends import Segment

logger = logging.getLogger(__name__)


def cache_key(source_id: str, task: str, language: str, model_tag: str) -> str:
    return f"speech:result:{source_id}:{task}:{language}:{model_tag}"


def load(connection: redis.Redis, key: str) -> list[Segment] | None:
    data = connection.get(key)
    if data is None:
        return None
    try:
        return [Segment.from_dict(item) for item in json.loads(data)]
    except (ValueError, TypeError):
        logger.warning("dropping a corrupt cache entry %s", key)
        connection.delete(key)
        return None


def store(connection: redis.Redis, key: str, segments: list[Segment], ttl_s: int) -> None:
    connection.set(key, json.dumps([asdict(segment) for segment in segments]), ex=ttl_s)
