"""What the areas share: the base class, placeholder tokens, and the parsers of list, host:port and URL settings."""

from __future__ import annotations

import re
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"", "changeme", "change-me", "token", "your-token", "xxx", "todo", "none", "placeholder"}


def is_placeholder(value: str) -> bool:
    return value.strip().lower() in PLACEHOLDERS or value.strip().startswith("<")


def check_secret(value: SecretStr | None, shape: str, problem: str) -> SecretStr | None:
    """A secret that is no placeholder and fully matches ``shape``; ``problem`` never echoes the value."""
    if value is not None and (
        is_placeholder(value.get_secret_value()) or not re.fullmatch(shape, value.get_secret_value())
    ):
        raise ValueError(problem)
    return value


class Area(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)


AreaT = TypeVar("AreaT", bound=BaseSettings)


def split_items(value: str) -> tuple[str, ...]:
    """A comma-separated setting as its non-empty, stripped items."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


def host_port(value: str) -> tuple[str, int] | None:
    """``host:port`` (an IPv6 host in brackets) as its parts, None when it is not that."""
    host, _, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value
