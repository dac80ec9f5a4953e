"""A client of the master that Redis Sentinel names, found again after every lost connection."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import redis
from redis.sentinel import Sentinel, SentinelManagedConnection

SENTINEL_TIMEOUT_S = 1.0  # a sentinel that is down or unreachable is skipped quickly for the next
MASTER_CONNECT_TIMEOUT_S = 5.0  # a master whose machine vanished (no connection refused)


class FollowingConnection(SentinelManagedConnection):
    """Asks the sentinels for the master at every (re)connect.

    redis-py 8 reconnects a lost connection from ``send_packed_command`` through
    ``connect_check_health``, straight to the address it had, not through ``connect`` where the
    sentinels are asked: a client would retry a dead master until its retries ran out.
    """

    _connecting_to = False

    def connect_to(self, address: tuple[str, int]) -> None:
        self._connecting_to = True
        try:
            super().connect_to(address)
        finally:
            self._connecting_to = False

    def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True) -> None:
        if self._sock is None and not self._connecting_to:
            self._connect_retry()  # one try: the client's own retry repeats it with back-off
            return
        super().connect_check_health(check_health=check_health, retry_socket_connect=retry_socket_connect)


def master_client(url: str, **options: Any) -> redis.Redis:
    """The master of ``redis+sentinel://[:password@]host:port,host:port/master``; ``options`` as for
    ``redis.Redis`` (retry, timeouts). The password is the sentinels' and the master's."""
    sentinels, master, password = parse_sentinel_url(url)
    asking = {"password": password, "socket_connect_timeout": SENTINEL_TIMEOUT_S, "socket_timeout": SENTINEL_TIMEOUT_S}
    options.setdefault("socket_connect_timeout", MASTER_CONNECT_TIMEOUT_S)
    sentinel = Sentinel(sentinels, sentinel_kwargs=asking, password=password, **options)
    return sentinel.master_for(master, connection_class=FollowingConnection)


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, str | None]:
    """The sentinels, the master's name and the password of a ``redis+sentinel://`` URL."""
    auth, _, rest = url.split("://", 1)[1].rpartition("@")
    hosts, _, master = rest.partition("/")
    pairs = (item.rpartition(":") for item in hosts.split(","))
    sentinels = [(host.strip("[]"), int(port)) for host, _, port in pairs]
    return sentinels, master, unquote(auth.split(":", 1)[1]) if ":" in auth else None
