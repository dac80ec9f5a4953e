"""Addresses checked as sockets connect: DNS rebinding and libraries the link check never sees.

A name resolves to a public test address for the link check (its resolver is a table) and to
127.0.0.1 for the real connection (``socket.getaddrinfo`` answers so in this process), as a
rebinding DNS server would answer the second time. The local server behind 127.0.0.1 records every
request: a refused connection leaves it untouched.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common.errors import VideoRejected
from common.video_links import PRIVATE_REFUSAL, LinkPolicy
from workers.speech import connect_guard
from workers.speech.connect_guard import AddressGuard, guarding
from workers.speech.download import download_audio
from workers.speech.source import follow_redirects

REBINDING = "video.rebind.test"
PUBLIC = "93.184.216.34"


class Server:
    def __init__(self, address: str = "127.0.0.1") -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                body = b"RIFF\0\0\0\0WAVE"
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((address, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, host: str, path: str = "/v.wav") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


@pytest.fixture
def lan_server() -> Iterator[Server]:
    """A second private server, on another loopback address (Linux answers all of 127.0.0.0/8)."""
    running = Server("127.0.0.2")
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> None:
    """What every library's connection resolves REBINDING to: 127.0.0.1."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == REBINDING else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def public_for_the_check(host: str, port: int) -> list[str]:
    return [PUBLIC]


GUARD = AddressGuard(LinkPolicy(frozenset({REBINDING})), resolve=public_for_the_check)


@pytest.mark.usefixtures("rebinding")
def test_a_name_that_rebinds_to_loopback_is_refused_as_yt_dlp_connects(server: Server, tmp_path: Path) -> None:
    GUARD(server.url(REBINDING))  # the link check passes: it sees the public address
    with pytest.raises(VideoRejected) as refused:
        download_audio(
            server.url(REBINDING), tmp_path, youtube=False, cookies=None, max_seconds=60, guard=GUARD, retry_after_s=0
        )
    assert str(refused.value) == PRIVATE_REFUSAL
    assert server.hits == [], "the connection was refused before anything was sent"


@pytest.mark.usefixtures("rebinding")
def test_the_redirect_walk_refuses_a_rebinding_name_as_it_connects(server: Server) -> None:
    with pytest.raises(VideoRejected, match="private network address"):
        follow_redirects(server.url(REBINDING), LinkPolicy(frozenset({REBINDING})))
    assert server.hits == []


@pytest.mark.usefixtures("rebinding")
def test_every_library_is_refused_a_private_address_inside_the_guard(server: Server) -> None:
    attempts = {
        "urllib": lambda: urllib.request.urlopen(server.url(REBINDING), timeout=5).close(),
        "http.client": lambda: http.client.HTTPConnection("127.0.0.1", server.port, timeout=5).request("GET", "/"),
        "socket": lambda: socket.create_connection(("127.0.0.1", server.port), timeout=5).close(),
        "ipv4 in ipv6": lambda: _connect_v6("::ffff:127.0.0.1", server.port),
    }
    for name, attempt in attempts.items():
        # What the library made of the refusal does not matter: the block raises the reply.
        with pytest.raises(VideoRejected, match="private network address"), guarding(), contextlib.suppress(OSError):
            attempt()
        assert server.hits == [], name


def _connect_v6(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect((host, port))


@pytest.mark.usefixtures("rebinding")
def test_a_host_the_operator_named_private_stays_allowed_as_it_connects(server: Server) -> None:
    for private_hosts in ({REBINDING}, {"127.0.0.1"}):
        with guarding(private_hosts):
            urllib.request.urlopen(server.url(REBINDING), timeout=5).close()
    assert server.hits == ["/v.wav", "/v.wav"]


def test_naming_a_private_host_opens_only_the_addresses_it_resolves_to(server: Server, lan_server: Server) -> None:
    """PRIVATE_VIDEO_HOSTS=media.lan lets a download reach media.lan, not every private address."""

    def lan(host: str, port: int) -> list[str]:
        return ["127.0.0.2"] if host == "media.lan" else []

    with guarding({"media.lan"}, lan):
        urllib.request.urlopen(lan_server.url("127.0.0.2"), timeout=5).close()
    assert lan_server.hits == ["/v.wav"]
    attempts = {
        "another loopback address": lambda: socket.create_connection(("127.0.0.1", server.port), timeout=5).close(),
        "the same, IPv4 in IPv6": lambda: _connect_v6("::ffff:127.0.0.1", server.port),
        "a name resolving elsewhere": lambda: urllib.request.urlopen(server.url("localhost"), timeout=5).close(),
    }
    for name, attempt in attempts.items():
        with pytest.raises(VideoRejected, match="private"), guarding({"media.lan"}, lan), contextlib.suppress(OSError):
            attempt()
        assert server.hits == [], name


def test_only_the_guarded_thread_is_checked_and_our_own_callbacks_are_not(server: Server) -> None:
    """Another thread (a Redis reconnect, a slot lease) and paused() callbacks connect freely."""
    results: list[int] = []

    def elsewhere() -> None:
        with urllib.request.urlopen(server.url("127.0.0.1"), timeout=5) as answer:
            results.append(answer.status)

    with guarding():
        other = threading.Thread(target=elsewhere)
        other.start()
        other.join(10)
        with connect_guard.paused():
            elsewhere()
    elsewhere()  # after the block
    assert results == [200, 200, 200]
