"""Finished transcripts by (source, task, language, model): the same request is answered without work.

For lang=auto the language heard in a source is kept too, so that asking again goes straight to
the transcript of that language.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

import redis

from workers.speech.backends import Segment

logger = logging.getLogger(__name__)


def cache_key(source_id: str, task: str, language: str, model_tag: str) -> str:
    return f"speech:result:{source_id}:{task}:{language}:{model_tag}"


def language_key(source_id: str, model_tag: str) -> str:
    return f"speech:language:{source_id}:{model_tag}"


def load(connection: redis.Redis, key: str) -> list[Segment] | None:
    data = connection.get(key)
    if data is None:
        return None
    try:
        return [Segment.from_dict(item) for item in json.loads(data)]
    except (ValueError, TypeError, KeyError, AttributeError):  # not JSON, or not a list of segments (an older format)
        logger.warning("dropping a corrupt cache entry %s", key)
        connection.delete(key)
        return None


def store(connection: redis.Redis, key: str, segments: list[Segment], ttl_s: int) -> None:
    connection.set(key, json.dumps([asdict(segment) for segment in segments]), ex=ttl_s)


def load_language(connection: redis.Redis, key: str) -> tuple[str, float] | None:
    data = connection.get(key)
    if data is None:
        return None
    try:
        found = json.loads(data)
        return str(found["language"]), float(found["probability"])
    except (ValueError, TypeError, KeyError):
        connection.delete(key)
        return None


def store_language(connection: redis.Redis, key: str, language: str, probability: float, ttl_s: int) -> None:
    connection.set(key, json.dumps({"language": language, "probability": probability}), ex=ttl_s)
