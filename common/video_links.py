"""Video links as users send them -> a validated, normalised link, or VideoRejected with the reply.

Pure Python (no ML imports): the bots validate before queueing, and the speech worker validates
again before fetching, since a name can resolve differently a minute later.

A host must be allowed. Its addresses must be public, unless the operator named the host as one
that may be private (an intranet media server; 127.0.0.1 in the tests): otherwise a user could make
the worker fetch from the machine's own network.
"""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from common.errors import VideoRejected
from common.settings import VideoSettings
from common.special_addresses import is_public

YOUTUBE_DOMAINS = frozenset(
    {
        "youtube.com",
        "www.youtube.com",
        "m.youtube.com",
        "music.youtube.com",
        "youtu.be",
        "www.youtu.be",
        "youtube-nocookie.com",
        "www.youtube-nocookie.com",
    }
)
YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
YOUTUBE_PATHS = ("shorts", "embed", "live", "v", "e")
EXAMPLE = "/transcribe https://www.youtube.com/watch?v=dQw4w9WgXcQ"
MAX_LINK_CHARS = 2000
PRIVATE_REFUSAL = "That link points to a private network address; I only fetch public videos."

Resolver = Callable[[str, int], Iterable[str]]


@dataclass(frozen=True)
class VideoLink:
    url: str  # what yt-dlp gets: the canonical watch URL for YouTube, else the link without fragment
    source_id: str  # "youtube:<id>" or "url:<hash>": the cache key of the video
    youtube: bool


@dataclass(frozen=True)
class LinkPolicy:
    """Which links are accepted; built from VideoSettings at the entry points."""

    allowed_hosts: frozenset[str]
    private_hosts: frozenset[str] = frozenset()  # may resolve to private/loopback addresses
    max_seconds: int = 1800

    @classmethod
    def from_settings(cls, video: VideoSettings) -> LinkPolicy:
        return cls(video.allowed_hosts, video.private_hosts, video.MAX_VIDEO_SECONDS)

    def accepts(self, host: str) -> bool:
        return host in self.allowed_hosts or host in self.private_hosts


def resolve_addresses(host: str, port: int) -> list[str]:
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]
    except (socket.gaierror, UnicodeError):
        return []


def validate_link(text: str, policy: LinkPolicy, resolve: Resolver = resolve_addresses) -> VideoLink:
    """The link in ``text`` if it is one we fetch; VideoRejected (the user's reply) otherwise."""
    text = text.strip().strip("<>")  # Discord users wrap links in <> to suppress the preview
    if len(text) > MAX_LINK_CHARS:
        raise VideoRejected(f"That link is over {MAX_LINK_CHARS} characters long; send a shorter one.")
    try:
        parts = urlsplit(text if "://" in text else "")
    except ValueError:  # an unclosed [IPv6] bracket, or a netloc that NFKC-normalises to '@', '/', ...
        raise VideoRejected(f"That link has a malformed address. Example: {EXAMPLE}") from None
    if parts.scheme and parts.scheme.lower() not in {"http", "https"}:
        raise VideoRejected(f"Only http:// and https:// links work, not {parts.scheme[:10]}://. Example: {EXAMPLE}")
    if not parts.scheme or not parts.netloc:
        raise VideoRejected(f"That is not a link to a video. Send it like this: {EXAMPLE}")
    try:
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise VideoRejected(f"That link has a malformed address. Example: {EXAMPLE}") from None
    if "@" in parts.netloc:  # even an empty user name: what is left of '@' is not the host people see
        raise VideoRejected("Links with a user name or password in them are not taken.")
    if not host or not policy.accepts(host):
        shown = ", ".join(sorted(policy.allowed_hosts)) or "none"
        raise VideoRejected(f"I only take videos from these sites: {shown} (not {_visible(host) or 'that'}).")
    _check_addresses(host, port, policy, resolve)
    if host in YOUTUBE_DOMAINS:
        video = youtube_id(parts.path, parts.query, host)
        return VideoLink(f"https://www.youtube.com/watch?v={video}", f"youtube:{video}", youtube=True)
    url = parts._replace(fragment="").geturl()
    return VideoLink(url, "url:" + hashlib.sha256(url.encode()).hexdigest()[:20], youtube=False)


def check_address(url: str, policy: LinkPolicy, resolve: Resolver = resolve_addresses) -> None:
    """For every request the worker makes after the link was accepted (a redirect, a format file, a
    stream's segments, a page's embeds): any http(s) host, but only at public addresses (or one the
    operator named private). VideoRejected otherwise."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise VideoRejected("That video points to a malformed address; I did not fetch it.") from None
    if parts.scheme.lower() not in {"http", "https"} or not host:
        raise VideoRejected("That video points to something other than a web address; I did not fetch it.")
    _check_addresses(host, port, policy, resolve)


def youtube_id(path: str, query: str, host: str) -> str:
    """The 11-character video id of any YouTube link form; VideoRejected for playlists and channels."""
    segments = [segment for segment in path.split("/") if segment]
    candidate = None
    if host.endswith("youtu.be"):
        candidate = segments[0] if segments else None
    elif segments[:1] == ["watch"] or not segments:
        candidate = next(iter(parse_qs(query).get("v", [])), None)
    elif len(segments) >= 2 and segments[0] in YOUTUBE_PATHS:
        candidate = segments[1]
    if candidate == "live_stream":  # /embed/live_stream?channel=...: whatever the channel is streaming now
        raise VideoRejected("That is a channel's live stream; send a link to a video once the stream has ended.")
    if candidate and candidate != "videoseries" and YOUTUBE_ID.fullmatch(candidate):
        return candidate
    if "list" in parse_qs(query) or segments[:1] == ["playlist"] or candidate == "videoseries":
        raise VideoRejected("That is a playlist; send a link to one video of it.")
    raise VideoRejected(f"That YouTube link names no video (channels and pages are not taken). Example: {EXAMPLE}")


def _check_addresses(host: str, port: int, policy: LinkPolicy, resolve: Resolver) -> None:
    addresses = list(resolve(host, port))
    if not addresses:
        # The name did not resolve from here: a DNS failure on our side looks the same as a wrong
        # host, so the reply blames neither the link nor the user.
        raise VideoRejected(
            f"The server cannot reach the site {_visible(host)} right now (its name does not resolve here); "
            "if the link is right, try again later."
        )
    if host in policy.private_hosts:
        return
    if not all(is_public(address) for address in addresses):
        raise VideoRejected(PRIVATE_REFUSAL)


def _visible(host: str) -> str:
    """The host as the reply shows it: look-alike and control characters escaped (youtube\\uff0ecom)."""
    return host[:60].encode("ascii", "backslashreplace").decode()
