"""Redirects and embedded addresses: the worker fetches nothing from an address the link policy forbids.

Two local servers on 127.0.0.1 stand in for the internet and for a private address. The worker's
policy names 127.0.0.1 as a host that may be private (as the other speech tests do), so links to it
are fetched. ``localhost`` is allowed but not named private, so, resolving to loopback, it stands for
a name that resolves into the worker's own network; ``2130706433``, ``127.1`` and
``[::ffff:127.0.0.1]`` are the same machine by number and not allowed at all. A link or redirect to
any of them must be refused before the forbidden server is asked anything.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from common.errors import VideoRejected
from common.queues import TRANSCRIBE, JobQueue
from common.video_links import LinkPolicy, check_address
from tests.test_speech import console_session, install_runtime
from workers.speech.download import download_audio
from workers.speech.source import follow_redirects

pytest_plugins = ["tests.speech_fixtures"]

WORKER_LINKS = LinkPolicy(frozenset({"localhost"}), frozenset({"127.0.0.1"}))


@dataclass
class Site:
    """A 127.0.0.1 server answering each path from ``routes``: (status, headers, body); it records every request."""

    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    first: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)  # answered once, then routes
    hits: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def serve(site: Site) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.hits.append(self.path)
            status, headers, body = site.first.pop(self.path, None) or site.routes.get(self.path, (404, {}, b""))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture
def sites() -> Iterator[tuple[Site, Site]]:
    """(public, forbidden): the forbidden one serves a 'secret' video that must never be asked for."""
    public, forbidden = Site(), Site()
    servers = [serve(public), serve(forbidden)]
    forbidden.routes["/secret.mp4"] = (200, {"Content-Type": "video/mp4"}, b"\0" * 64)
    yield public, forbidden
    for server in servers:
        server.shutdown()
        server.server_close()


def forbidden_names(port: int) -> list[str]:
    return [
        f"http://localhost:{port}/secret.mp4",
        f"http://2130706433:{port}/secret.mp4",
        f"http://[::ffff:127.0.0.1]:{port}/secret.mp4",
        f"http://127.1:{port}/secret.mp4",
    ]


def test_yt_dlp_alone_follows_a_redirect_to_a_forbidden_address(sites, tmp_path):
    """Why the worker walks redirects itself: given the redirecting link, yt-dlp asks the forbidden server."""
    public, forbidden = sites
    public.routes["/r"] = (302, {"Location": f"http://localhost:{forbidden.port}/secret.mp4"}, b"")
    with contextlib.suppress(VideoRejected):
        download_audio(f"{public.base}/r", tmp_path, youtube=False, cookies=None, max_seconds=60)
    assert forbidden.hits, "yt-dlp followed the redirect"


@pytest.mark.parametrize("index", range(4))
def test_the_redirect_walk_refuses_before_asking_the_target(sites, index):
    public, forbidden = sites
    target = forbidden_names(forbidden.port)[index]
    public.routes["/r"] = (302, {"Location": target}, b"")
    with pytest.raises(VideoRejected, match="redirects somewhere I do not fetch from"):
        follow_redirects(f"{public.base}/r", WORKER_LINKS)
    assert public.hits == ["/r"]
    assert forbidden.hits == []


@pytest.mark.parametrize(
    ("location", "reply"),
    [
        ("file:///etc/passwd", "Only http:// and https://"),
        ("gopher://127.0.0.1:70/", "Only http:// and https://"),
        ("http://user:pw@127.0.0.1/x", "user name or password"),
        ("http://169.254.169.254/latest/meta-data/", "I only take videos from these sites"),
        ("http://[::1", "malformed address"),
    ],
)
def test_redirects_to_other_schemes_and_forms_are_refused(sites, location, reply):
    public, _ = sites
    public.routes["/r"] = (301, {"Location": location}, b"")
    with pytest.raises(VideoRejected, match=reply):
        follow_redirects(f"{public.base}/r", WORKER_LINKS)


def test_allowed_redirect_chains_are_followed_and_loops_are_cut(sites):
    public, _ = sites
    public.routes["/a"] = (302, {"Location": "/b"}, b"")
    public.routes["/b"] = (307, {"Location": f"{public.base}/video.mp4#t=3"}, b"")
    public.routes["/video.mp4"] = (200, {"Content-Type": "video/mp4"}, b"\0")
    assert follow_redirects(f"{public.base}/a", WORKER_LINKS) == f"{public.base}/video.mp4"
    public.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(VideoRejected, match="redirects more than 5 times"):
        follow_redirects(f"{public.base}/loop", WORKER_LINKS)
    assert follow_redirects(f"{public.base}/missing", WORKER_LINKS) == f"{public.base}/missing", "yt-dlp words a 404"


def test_a_redirect_to_a_forbidden_address_is_refused_by_a_real_worker(connection, sites, tiny_models, tmp_path):
    """End to end: console bot -> Redis -> RQ worker: a clear refusal, and the forbidden server is never asked."""
    public, forbidden = sites
    for index, target in enumerate(forbidden_names(forbidden.port)):
        public.routes[f"/r{index}"] = (302, {"Location": target}, b"")
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models").links = WORKER_LINKS
    lines = "".join(f"/transcribe {public.base}/r{index}\n" for index in range(4))
    out = console_session(connection, lines, tmp_path)
    assert out.count("Queued as job") == 4, out
    assert out.count("That link redirects somewhere I do not fetch from.") == 4, out
    assert out.count("private network address") == 1, "localhost is allowed but resolves to loopback"
    assert out.count("I only take videos from these sites: localhost (not ") == 3, "numbers are not names"
    assert sorted(public.hits) == ["/r0", "/r1", "/r2", "/r3"]
    assert forbidden.hits == []
    assert JobQueue(connection).waiting(TRANSCRIBE) == 0
    assert not connection.keys("speech:result:*"), "refusals are not cached"


def test_a_page_or_stream_pointing_at_a_forbidden_address_is_refused_by_a_real_worker(
    connection, sites, tiny_models, tmp_path
):
    """No redirect at all: a page's og:video and a stream's segment name the forbidden server."""
    public, forbidden = sites
    secret = f"http://localhost:{forbidden.port}/secret.mp4"
    page = f'<html><head><title>t</title><meta property="og:video" content="{secret}"></head><body></body></html>'
    public.routes["/page.html"] = (200, {"Content-Type": "text/html"}, page.encode())
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\n{secret}\n#EXT-X-ENDLIST\n"
    public.routes["/stream.m3u8"] = (200, {"Content-Type": "application/vnd.apple.mpegurl"}, playlist.encode())
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models").links = WORKER_LINKS
    lines = f"/transcribe {public.base}/page.html\n/translate {public.base}/stream.m3u8\n"
    out = console_session(connection, lines, tmp_path)
    assert out.count("That link points to a private network address; I only fetch public videos.") == 2, out
    assert public.hits.count("/page.html") == 2, (
        "the redirect walk, then one extraction for the checks and the download"
    )
    assert forbidden.hits == []


def test_a_redirect_that_appears_after_the_walk_is_refused_though_not_prevented(
    connection, sites, tiny_models, tmp_path
):
    """The limit of the design: a server that answers the walk with 200 and yt-dlp with 302 gets yt-dlp
    to send that one request (yt-dlp follows redirects inside a request); the response is refused."""
    public, forbidden = sites
    public.first["/v.mp4"] = (200, {"Content-Type": "video/mp4"}, b"\0")
    public.routes["/v.mp4"] = (302, {"Location": f"http://localhost:{forbidden.port}/secret.mp4"}, b"")
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models").links = WORKER_LINKS
    out = console_session(connection, f"/transcribe {public.base}/v.mp4\n", tmp_path)
    assert "That link points to a private network address; I only fetch public videos." in out, out
    assert public.hits == ["/v.mp4", "/v.mp4"]
    assert forbidden.hits == ["/secret.mp4"], "sent, but its answer was dropped"
    assert not connection.keys("speech:result:*")


def test_the_request_guard_takes_public_and_named_private_addresses_only():
    check_address("http://127.0.0.1:9/x", WORKER_LINKS)
    for url, reply in [
        ("http://localhost:9/x", "private network address"),
        ("http://0.0.0.0/", "private network address"),
        ("ftp://127.0.0.1/x", "other than a web address"),
        ("http://[::1/", "malformed"),
        ("http://no-such-host.invalid/", "cannot reach the site"),
    ]:
        with pytest.raises(VideoRejected, match=reply):
            check_address(url, WORKER_LINKS)
    check_address("https://cdn.example/x", WORKER_LINKS, lambda host, port: ["93.184.216.34"])
    with pytest.raises(VideoRejected, match="private network address"):
        check_address("https://cdn.example/x", WORKER_LINKS, lambda host, port: ["2002:7f00:1::"])
