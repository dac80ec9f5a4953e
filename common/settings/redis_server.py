"""Which Redis: a URL, the embedded server, or a master found by sentinels."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from pydantic import SecretStr, field_validator, model_validator

from common.settings.base import Area, split_items

SENTINEL_SCHEME = "redis+sentinel"


class RedisSettings(Area):
    """REDIS_URL unset means: start (or join) the embedded redis-server under DATA_DIR.

    With REDIS_SENTINELS, REDIS_URL becomes the sentinel form of :func:`sentinel_url`
    (``redis+sentinel://...``), so that every process passes one URL on as it does a plain one (the
    worker supervisor hands it to its children, who compose the same one from the same variables).
    """

    REDIS_URL: str | None = None
    REDIS_SENTINELS: str = ""  # host:port,host:port,... of the sentinels that watch the master
    REDIS_SENTINEL_MASTER: str = "mymaster"
    # The sentinels' password, and the master's and replicas' (one password for all, as with
    # requirepass/masterauth set alike and the sentinels' own requirepass).
    REDIS_SENTINEL_PASSWORD: SecretStr | None = None

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"redis", "rediss", "unix", SENTINEL_SCHEME}:
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("REDIS_SENTINELS")
    @classmethod
    def _sentinel_addresses(cls, value: str) -> str:
        for item in split_items(value):
            host, _, port = item.rpartition(":")
            if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"has '{item[:60]}', which is not host:port (e.g. 10.0.0.5:26379)")
        return value

    @field_validator("REDIS_SENTINEL_MASTER")
    @classmethod
    def _master_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", value):
            raise ValueError("must be the master's name in the sentinels' configuration (letters, digits, . _ -)")
        return value

    @model_validator(mode="after")
    def _one_redis(self) -> RedisSettings:
        if not self.REDIS_SENTINELS:
            if self.REDIS_URL is not None and urlsplit(self.REDIS_URL).scheme == SENTINEL_SCHEME:
                raise ValueError("REDIS_URL must start with redis://, rediss:// or unix://")
            return self
        password = self.REDIS_SENTINEL_PASSWORD.get_secret_value() if self.REDIS_SENTINEL_PASSWORD else None
        url = sentinel_url(self.sentinels, self.REDIS_SENTINEL_MASTER, password)
        if self.REDIS_URL not in (None, url):
            raise ValueError("REDIS_URL and REDIS_SENTINELS are both set: set one of them")
        self.REDIS_URL = url
        return self

    @property
    def sentinels(self) -> tuple[tuple[str, int], ...]:
        pairs = (item.rpartition(":") for item in split_items(self.REDIS_SENTINELS))
        return tuple((host.strip("[]"), int(port)) for host, _, port in pairs)


def sentinel_url(sentinels: tuple[tuple[str, int], ...], master: str, password: str | None) -> str:
    """``redis+sentinel://[:password@]host:port,host:port/master``: the sentinels, as one URL."""
    hosts = ",".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in sentinels)
    secret = f":{quote(password, safe='')}@" if password else ""
    return f"{SENTINEL_SCHEME}://{secret}{hosts}/{master}"
