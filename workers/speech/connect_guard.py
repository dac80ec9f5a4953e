"""Every socket a download's thread connects goes to a public address, checked as it connects.

The link policy judges a name's addresses before a request is sent, but the library resolves the
name again when it connects (DNS rebinding can answer 127.0.0.1 the second time), and yt-dlp follows
redirects inside one request. Python's audit hook on ``socket.connect`` sees the address a socket is
actually given, after resolution, whichever library opens it (urllib, requests, websockets).

Audit hooks cannot be removed: one is installed per process, and outside a guarded thread it
returns after one string comparison and one thread-local read. Only the thread that runs the
download is guarded (a Redis reconnect in another thread is not the download's), and our own
callbacks inside it (progress into Redis) run ``paused()``.
"""

from __future__ import annotations

import errno
import socket
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from common.errors import VideoRejected
from common.special_addresses import is_public
from common.video_links import PRIVATE_REFUSAL, LinkPolicy, Resolver, check_address, resolve_addresses

_state = threading.local()
_install_lock = threading.Lock()
_installed = False


class ConnectRefused(PermissionError):
    """What ``socket.connect`` raises in a guarded thread for a private address: an OSError, so every
    library handles it as a failed connection; the guard turns it into the user's reply afterwards."""


@dataclass
class _Scope:
    private_hosts: frozenset[str]  # the operator's hosts that may be private: allowed at connect time too
    resolve: Resolver
    refused: str | None = None  # the first address refused
    _allowed: set[str] | None = field(default=None, repr=False)

    def allows(self, host: str) -> bool:
        try:
            if is_public(host):
                return True
            address = str(ip_address(host.split("%", 1)[0]))
        except ValueError:
            # A name: socket.connect would resolve it out of our sight. Libraries pass addresses.
            return host.rstrip(".").lower() in self.private_hosts
        return address in self._private_addresses()

    def _private_addresses(self) -> set[str]:
        # Resolved only when a non-public address shows up, once per scope: the common case costs nothing.
        if self._allowed is None:
            self._allowed = set()
            for host in self.private_hosts:
                for found in self.resolve(host, 0):
                    try:
                        self._allowed.add(str(ip_address(found.split("%", 1)[0])))
                    except ValueError:
                        continue
        return self._allowed


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "socket.connect":
        return
    scope: _Scope | None = getattr(_state, "scope", None)
    if scope is None:
        return
    sock, address = args
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = str(address[0])
    if scope.refused is None and scope.allows(host):
        return
    scope.refused = scope.refused or host  # once refused, the download makes no further connection
    raise ConnectRefused(errno.EACCES, f"connecting to {host} is not allowed: not a public address")


def install() -> None:
    """Add the audit hook to this process (once; later calls do nothing)."""
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_audit)
            _installed = True


@contextmanager
def guarding(private_hosts: Iterable[str] = (), resolve: Resolver = resolve_addresses) -> Iterator[None]:
    """Sockets this thread connects meanwhile reach public addresses only, or those of ``private_hosts``.

    A refused connection fails inside the library as an OSError; whatever the library made of it,
    the block then raises VideoRejected with the reply the link check gives.
    """
    install()
    previous = getattr(_state, "scope", None)
    scope = _Scope(frozenset(host.lower() for host in private_hosts), resolve)
    _state.scope = scope
    try:
        yield
    except Exception:
        if scope.refused is not None:
            raise VideoRejected(PRIVATE_REFUSAL) from None
        raise
    finally:
        _state.scope = previous
    if scope.refused is not None:
        raise VideoRejected(PRIVATE_REFUSAL)


@contextmanager
def paused() -> Iterator[None]:
    """Our own code called back from inside a guarded download (progress into Redis) connects freely."""
    previous = getattr(_state, "scope", None)
    _state.scope = None
    try:
        yield
    finally:
        _state.scope = previous


@dataclass(frozen=True)
class AddressGuard:
    """The checks of one download: ``guard(url)`` before each request, ``guard.connecting()`` around it."""

    policy: LinkPolicy
    resolve: Resolver = resolve_addresses  # the check's resolver; the connect check sees what sockets get

    def __call__(self, url: str) -> None:
        check_address(url, self.policy, self.resolve)

    def connecting(self) -> AbstractContextManager[None]:
        return guarding(self.policy.private_hosts)
