"""What `--check` of each entry point shares: one line per dependency, and an exit code for supervisors.

A check never starts anything: with REDIS_URL unset it looks for the embedded server that a running
process started, and it reads registries without side effects (no RQ cleanup runs from here).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue

from common.connection import client_for, is_sentinel_url, redact
from common.embedded_redis import EmbeddedRedis
from common.errors import SettingsError
from common.settings import Settings, load_settings

logger = logging.getLogger(__name__)

TIMEOUT_S = 3.0
CHECK_FAILED = 1  # 2 stays the code of a start-up error (common.entrypoint.run)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(build: Callable[[Settings], list[Check]], out: TextIO | None = None) -> int:
    """Load the settings, run ``build``'s checks, print them; 0 when every one passed."""
    try:
        settings = load_settings()
    except SettingsError as exc:  # its text names the variable and never echoes a secret
        return report([Check("settings", False, str(exc))], out)
    return report(build(settings), out)


def report(checks: list[Check], out: TextIO | None = None) -> int:
    for check in checks:
        print(f"{'ok' if check.ok else 'FAIL':<4}  {check.name}: {check.detail}", file=out or sys.stdout)
    return 0 if all(check.ok for check in checks) else CHECK_FAILED


def check_redis(redis_url: str | None, data_dir: Path, queues: tuple[str, ...] = ()) -> Check:
    """Redis answers a PING; with ``queues``, also how many jobs wait in each and how many failed."""
    if redis_url is None:
        redis_url = EmbeddedRedis(data_dir).running_url()  # reads the url file and pings; starts nothing
        if redis_url is None:
            where = data_dir / "redis"
            return Check("redis", False, f"REDIS_URL is unset and no embedded redis-server runs under {where}")
    client = client_for(
        redis_url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S, retry=Retry(NoBackoff(), 0)
    )
    try:
        version = client.info("server").get("redis_version", "?")
        counts = [_queue_counts(client, name) for name in queues]
        # Which server the sentinels name as master now (the one that answered).
        master = client.connection_pool.get_master_address() if is_sentinel_url(redis_url) else None
    except redis.exceptions.AuthenticationError:
        return Check("redis", False, f"Redis at {redact(redis_url)} refused our credentials (check REDIS_URL)")
    except redis.exceptions.RedisError as exc:
        return Check("redis", False, f"cannot reach Redis at {redact(redis_url)}: {exc}")
    finally:
        client.close()
    detail = f"Redis {version} at {redact(redis_url)} answers"
    if master is not None:
        detail += f", master {master[0]}:{master[1]}"
    return Check("redis", True, f"{detail} ({'; '.join(counts)})" if counts else detail)


def _queue_counts(client: redis.Redis, name: str) -> str:
    queue = Queue(name, connection=client)
    waiting = client.llen(queue.key)
    # zcard, not registry.count(): count() runs RQ's cleanup, which would act on abandoned jobs.
    started = client.zcard(queue.started_job_registry.key)
    failed = client.zcard(queue.failed_job_registry.key)
    return f"{name}: {waiting} waiting, {started} running, {failed} failed"
