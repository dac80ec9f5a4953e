"""Day-by-day figures for the bots' admins (/stats): jobs per kind, failures, waits and runs, speech
minutes, distinct users. Bots count what they queue; workers count what ran and what failed.

Redis keys per UTC day, gone after KEEP_DAYS; waits and runs keep the last SAMPLES of the day, and
users are a HyperLogLog (12 KB at most, about 1 % off), so nothing grows with the traffic.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import redis

KEEP_DAYS = 8  # today and the seven days before it
SAMPLES = 1000


def day(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() if at is None else at))


def _key(name: str, on: str | None = None) -> str:
    return f"usage:{on or day()}:{name}"


def _expire(pipe: redis.client.Pipeline, *keys: str) -> None:
    for key in keys:
        pipe.expire(key, KEEP_DAYS * 24 * 3600)


def queued(connection: redis.Redis, queue: str, user: str) -> None:
    """A bot queued a job on ``queue`` for ``user`` (an outbox-prefixed id: telegram:42)."""
    jobs, users = _key(f"jobs:{queue}"), _key("users")
    pipe = connection.pipeline(transaction=False)
    pipe.incr(jobs)
    pipe.pfadd(users, user)
    _expire(pipe, jobs, users)
    pipe.execute()


def ran(connection: redis.Redis, queue: str, wait_s: float, run_s: float, audio_s: float | None = None) -> None:
    waits, runs, speech = _key(f"wait:{queue}"), _key(f"run:{queue}"), _key("speech_s")
    pipe = connection.pipeline(transaction=False)
    pipe.lpush(waits, round(wait_s, 3))
    pipe.ltrim(waits, 0, SAMPLES - 1)
    pipe.lpush(runs, round(run_s, 3))
    pipe.ltrim(runs, 0, SAMPLES - 1)
    if audio_s:
        pipe.incrbyfloat(speech, audio_s)
    _expire(pipe, waits, runs, speech)
    pipe.execute()


def failed(connection: redis.Redis, queue: str) -> None:
    key = _key(f"failed:{queue}")
    pipe = connection.pipeline(transaction=False)
    pipe.incr(key)
    _expire(pipe, key)
    pipe.execute()


@dataclass(frozen=True)
class Period:
    jobs: dict[str, int]
    failed: dict[str, int]
    waits: dict[str, list[float]]
    runs: dict[str, list[float]]
    speech_s: float
    users: int


def period(connection: redis.Redis, queues: tuple[str, ...], days: int) -> Period:
    """The last ``days`` UTC days, today included."""
    dates = [day(time.time() - number * 24 * 3600) for number in range(days)]
    pipe = connection.pipeline(transaction=False)
    for on in dates:
        for queue in queues:
            pipe.get(_key(f"jobs:{queue}", on))
            pipe.get(_key(f"failed:{queue}", on))
            pipe.lrange(_key(f"wait:{queue}", on), 0, -1)
            pipe.lrange(_key(f"run:{queue}", on), 0, -1)
        pipe.get(_key("speech_s", on))
    answers = iter(pipe.execute())
    jobs = dict.fromkeys(queues, 0)
    failures = dict.fromkeys(queues, 0)
    waits: dict[str, list[float]] = {queue: [] for queue in queues}
    runs: dict[str, list[float]] = {queue: [] for queue in queues}
    speech_s = 0.0
    for _ in dates:
        for queue in queues:
            jobs[queue] += int(next(answers) or 0)
            failures[queue] += int(next(answers) or 0)
            waits[queue] += [float(value) for value in next(answers)]
            runs[queue] += [float(value) for value in next(answers)]
        speech_s += float(next(answers) or 0)
    users = int(connection.pfcount(*[_key("users", on) for on in dates]))
    return Period(jobs, failures, waits, runs, speech_s, users)


def percentiles(values: list[float]) -> tuple[float, float] | None:
    """Median and 95th percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
