"""What the benchmarks share: the machine's name for their figures, and a Redis they can use."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import redis


def cpu_name() -> str:
    """The processor as /proc/cpuinfo names it (figures in README say which machine gave them)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return f"{platform.machine()} ({line.split(':', 1)[1].strip()})"
    return platform.processor() or platform.machine()


def connect(url: str, wait_s: float = 5.0) -> redis.Redis:
    """A client of a redis-server just started: returned once it answers PING."""
    connection = redis.Redis.from_url(url)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            connection.ping()
            return connection
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
