"""python -m common.redis_url: print the Redis URL the processes use, for tools that take one.

REDIS_URL when it is set; otherwise the URL of the embedded redis-server that a running process
(the worker or bot that `scripts/start.sh` starts) has started under DATA_DIR, which listens on a
free port chosen at its start. So ``rq info --url "$(python -m common.redis_url)"`` works in both
modes. It starts nothing: with no server running, it says so and exits 1.
"""

from __future__ import annotations

import sys

from common.embedded_redis import EmbeddedRedis
from common.entrypoint import run
from common.settings import load_settings


def main() -> int:
    settings = load_settings()
    url = settings.redis.REDIS_URL or EmbeddedRedis(settings.storage.DATA_DIR).running_url()
    if url is None:
        where = settings.storage.DATA_DIR / "redis"
        print(
            f"REDIS_URL is unset and no embedded redis-server runs under {where}: "
            "start one with `bash scripts/start.sh` or `python -m workers`",
            file=sys.stderr,
        )
        return 1
    print(url)
    return 0


if __name__ == "__main__":
    run(main, "common.redis_url")
