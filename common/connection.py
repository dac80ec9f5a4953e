"""The Redis connection every process uses: REDIS_URL, the master the sentinels name, or the embedded server."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from common.embedded_redis import EmbeddedRedis, leave_at_exit
from common.errors import StartupError
from common.sentinel import master_client
from common.settings import SENTINEL_SCHEME

logger = logging.getLogger(__name__)

RESTART_RETRIES = 8  # about 6 s of waiting in all
# About 30 s: a sentinel takes a master for down after down-after-milliseconds (30 s by default),
# then the sentinels elect one of them to promote a replica.
FAILOVER_RETRIES = 22


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


def resolve_url(redis_url: str | None, data_dir: Path) -> str:
    """``redis_url``, or the URL of the embedded server under ``data_dir`` (joined until exit)."""
    if redis_url is not None:
        return redis_url
    embedded = EmbeddedRedis(data_dir)
    url = embedded.join()
    leave_at_exit(embedded)
    return url


def connect(redis_url: str | None, data_dir: Path, *, wait_s: float = 30.0) -> redis.Redis:
    """Connect (with bounded back-off) to ``redis_url``, or join the embedded server under ``data_dir``."""
    redis_url = resolve_url(redis_url, data_dir)
    retries = FAILOVER_RETRIES if is_sentinel_url(redis_url) else RESTART_RETRIES
    client = client_for(
        redis_url,
        health_check_interval=30,
        socket_keepalive=True,
        # Commands wait out a Redis restart of a few seconds (a failover: until a replica is promoted)
        # instead of failing at once. Each retry of a sentinel client asks the sentinels for the master.
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries),
        retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
    )
    _ping_with_backoff(client, redis_url, wait_s)
    return client


def is_sentinel_url(url: str) -> bool:
    return urlsplit(url).scheme == SENTINEL_SCHEME


def client_for(url: str, **options: Any) -> redis.Redis:
    """A client of ``url``: redis://, rediss://, unix://, or the master that the sentinels of a
    redis+sentinel:// URL name now (found again after each lost connection: it follows a failover)."""
    if is_sentinel_url(url):
        return master_client(url, **options)
    return redis.Redis.from_url(url, **options)


def _ping_with_backoff(client: redis.Redis, url: str, wait_s: float) -> None:
    @retry(
        retry=retry_if_exception_type(redis.exceptions.ConnectionError),
        wait=wait_exponential(multiplier=0.1, max=2.0),
        stop=stop_after_delay(wait_s),
        reraise=True,
    )
    def ping() -> None:
        client.ping()

    try:
        ping()
    except redis.exceptions.AuthenticationError as exc:
        raise StartupError(f"Redis at {redact(url)} refused our credentials (check REDIS_URL)") from exc
    except redis.exceptions.RedisError as exc:
        raise StartupError(f"cannot reach Redis at {redact(url)}: is it running? ({exc})") from exc
