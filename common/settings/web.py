"""The web front end (python -m web): where it listens, who may log in, and whether anonymous use is meant."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import field_validator

from common.errors import SettingsError
from common.settings.base import Area, host_port

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


class WebSettings(Area):
    WEB_LISTEN: str = "127.0.0.1:7860"  # host:port
    WEB_ROOT_PATH: str = ""  # the path prefix a reverse proxy serves it under, e.g. /mlchat
    WEB_USERS: Path | None = None  # a file of user:password-hash lines (python -m web.users makes them)
    WEB_PUBLIC: bool = False  # anonymous use on a non-loopback address is meant

    @field_validator("WEB_LISTEN")
    @classmethod
    def _listen(cls, value: str) -> str:
        if host_port(value) is None:
            raise ValueError(f"must be host:port, e.g. 127.0.0.1:7860, not '{value[:40]}'")
        return value

    @field_validator("WEB_ROOT_PATH")
    @classmethod
    def _root_path(cls, value: str) -> str:
        if value and (not value.startswith("/") or value.endswith("/") or " " in value):
            raise ValueError(f"must be a path such as /mlchat (a leading slash, none at the end), not '{value[:40]}'")
        return value

    @field_validator("WEB_USERS")
    @classmethod
    def _users_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"names {value}, which is not a file (lines of user:password-hash)")
        return value

    def check_exposure(self) -> None:
        """Anonymous use only on loopback unless WEB_PUBLIC says it is meant (checked by python -m web alone,
        so that a WEB_LISTEN in a shared environment never stops the bots or workers)."""
        if self.WEB_USERS is None and not self.WEB_PUBLIC and not is_loopback(self.host):
            raise SettingsError(
                f"WEB_LISTEN is {self.WEB_LISTEN}, reachable from other machines, and WEB_USERS is unset: "
                "set WEB_USERS (a file of user:password-hash lines) or WEB_PUBLIC=true for anonymous use"
            )

    @property
    def host(self) -> str:
        return host_port(self.WEB_LISTEN)[0]  # type: ignore[index]  # checked above

    @property
    def port(self) -> int:
        return host_port(self.WEB_LISTEN)[1]  # type: ignore[index]

    @property
    def url(self) -> str:
        """Where a browser on this machine finds it (a wildcard address: on loopback). The process serves
        at /; WEB_ROOT_PATH is the prefix a reverse proxy adds (and strips) in front of it."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # noqa: S104 - a comparison
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/"


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere
