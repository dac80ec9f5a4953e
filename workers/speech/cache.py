"""Finished transcripts by (source, task, language, model): the same request is answered without work.

For lang=auto the language heard in a source is kept too, so that asking again goes straight to
the transcript of that language.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

import redis

from workers.speech.backends import Segment
from workers.speech.coverage import Coverage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transcript:
    """What a recognition made of a source: its segments, and how much of the speech they cover."""

    segments: list[Segment]
    coverage: Coverage


def cache_key(source_id: str, task: str, language: str, model_tag: str) -> str:
    return f"speech:result:{source_id}:{task}:{language}:{model_tag}"


def language_key(source_id: str, model_tag: str) -> str:
    return f"speech:language:{source_id}:{model_tag}"


def load(connection: redis.Redis, key: str) -> Transcript | None:
    data = connection.get(key)
    if data is None:
        return None
    try:
        found = json.loads(data)
        segments = [Segment.from_dict(item) for item in found["segments"]]
        return Transcript(segments, Coverage.from_dict(found["coverage"]))
    except (ValueError, TypeError, KeyError, AttributeError):
        # not JSON, or not a transcript (a list of segments is the format before coverage): recognised again
        logger.warning("dropping a corrupt cache entry %s", key)
        connection.delete(key)
        return None


def store(connection: redis.Redis, key: str, transcript: Transcript, ttl_s: int) -> None:
    segments = [asdict(segment) for segment in transcript.segments]
    found = {"segments": segments, "coverage": transcript.coverage.to_dict()}
    connection.set(key, json.dumps(found), ex=ttl_s)


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
