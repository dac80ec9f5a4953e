"""How long jobs took lately, per queue: workers record each run, bots turn them into waiting times.

A bounded list per queue in Redis (the last KEEP runs, gone after a quiet week). A speech run
keeps its audio's length too, so its figure is per second of audio: a queue of voice notes and
one of films then estimate differently from the same worker speed.
"""

from __future__ import annotations

import json
import math
import statistics

import redis

KEEP = 50
TTL_S = 7 * 24 * 3600


def key(queue: str) -> str:
    return f"durations:{queue}"


def record(connection: redis.Redis, queue: str, run_s: float, audio_s: float | None = None) -> None:
    pipe = connection.pipeline(transaction=False)
    pipe.lpush(key(queue), json.dumps([round(run_s, 3), None if audio_s is None else round(audio_s, 1)]))
    pipe.ltrim(key(queue), 0, KEEP - 1)
    pipe.expire(key(queue), TTL_S)
    pipe.execute()


def typical_run_s(connection: redis.Redis, queue: str) -> float | None:
    """A job's run time on ``queue`` as the last runs give it; None with no data yet.

    Runs with an audio length give the median seconds per second of audio times the median length.
    """
    runs = [json.loads(raw) for raw in connection.lrange(key(queue), 0, -1)]
    if not runs:
        return None
    timed = [(run_s, audio_s) for run_s, audio_s in runs if audio_s]
    if timed:
        rate = statistics.median(run_s / audio_s for run_s, audio_s in timed)
        return rate * statistics.median(audio_s for _, audio_s in timed)
    return statistics.median(run_s for run_s, _ in runs)


def wait_s(typical_s: float | None, position: int, workers: int) -> float | None:
    """Until a job ``position`` in line (1: next) is done, with ``workers`` taking one job each at a time."""
    if typical_s is None or workers <= 0:
        return None
    # It starts when a worker is free for it: the jobs running now are half done, on average.
    return (math.ceil(position / workers) - 0.5) * typical_s + typical_s


def about(seconds: float) -> str:
    """ "about 40 s", "about 3 min", "about 1 h 10 min"."""
    if seconds < 60:
        return f"about {max(10, math.ceil(seconds / 10) * 10)} s" if seconds >= 10 else "a few seconds"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60} min" if minutes % 60 else f"about {minutes // 60} h"
