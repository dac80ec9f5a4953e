"""yt-dlp's errors as one plain sentence for the chat user, and a log line for the operator.

yt-dlp raises ``DownloadError("ERROR: [youtube] <id>: <reason>")``; the reason is mostly YouTube's
own text (its playability status), and the original exception (ExtractorError, GeoRestrictedError,
with an HTTPError or TransportError as its cause) rides along in ``exc_info``. Both are read here:
the exception types where they say enough, YouTube's words otherwise. Which of YouTube's words mean
what was read from yt-dlp's YouTube extractor (yt_dlp/extractor/youtube/_video.py) in 2026.
"""

from __future__ import annotations

import logging
import re
import socket
import urllib.error
from collections.abc import Iterator

from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import DownloadError, GeoRestrictedError

from common.errors import VideoRejected

logger = logging.getLogger(__name__)

YOUTUBE_REFUSED = "YouTube refused this server just now; try again later or send the file."
BOT_CHECK_ADVICE = (
    "YouTube asked this server to sign in (its bot check for data-centre addresses). Configure one of: "
    "YTDLP_COOKIES (a cookies file of a throwaway account: the account can be banned), a PO-token provider "
    "plugin such as bgutil-ytdlp-pot-provider; and lower YOUTUBE_CONCURRENT_DOWNLOADS or raise YOUTUBE_SLEEP_S"
)
DNS_FAILURES = (
    "failed to resolve",
    "name or service not known",
    "[errno -2]",
    "[errno -3]",
    "[errno -5]",
    "getaddrinfo failed",
    "temporary failure in name resolution",
    "nodename nor servname",
    "no address associated with hostname",
)
UNREACHABLE = ("connection refused", "network is unreachable", "no route to host", "timed out")
# YouTube's reasons, most specific first: "Private video. Sign in if you've been granted access" must
# not read as the bot check, and "Sign in to confirm your age" is an age gate, not a bot check.
YOUTUBE_REASONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("confirm your age", "age-restricted", "inappropriate for some users"),
        "That video is age-restricted on YouTube, and I cannot sign in to watch it.",
    ),
    (
        ("channel's members", "members-only", "join this channel"),
        "That video is for the channel's members only.",
    ),
    (("private video", "this video is private"), "That video is private."),
    (
        ("has been removed", "account associated with this video has been terminated", "no longer available"),
        "That video has been removed from YouTube.",
    ),
    (
        ("premieres in", "premiere will begin", "live event will begin", "will begin in"),
        "That live stream or premiere has not started yet; send it again when it has ended.",
    ),
    (
        ("this live event has ended", "live stream recording is not available"),
        "That live stream left no recording I can fetch.",
    ),
    (("is not currently live",), "That channel is not live; send a link to one of its videos."),
    (("live stream", "currently live"), "That is a live stream; send it again when it has ended."),
)
NO_FORMATS = ("requested format is not available", "no video formats found", "only images are available")


def rejection(exc: DownloadError, *, youtube: bool = False, host: str | None = None) -> VideoRejected:
    """yt-dlp's error as a reply a user understands; what the operator can do goes to the log."""
    close_responses(exc)
    text = str(exc)
    lowered = text.lower().replace("\u2019", "'")  # YouTube writes "you’re" with a curly apostrophe
    causes = list(_causes(exc))
    logger.info("yt-dlp refused: %s", text)
    site = host or "that site"
    if "not a bot" in lowered or "captcha" in lowered:
        logger.warning("%s. yt-dlp said: %s", BOT_CHECK_ADVICE, text[:300])
        return VideoRejected(YOUTUBE_REFUSED)
    if "content isn't available, try again later" in lowered:
        logger.warning(
            "YouTube rate-limited this server for up to an hour: raise YOUTUBE_SLEEP_S, lower "
            "YOUTUBE_CONCURRENT_DOWNLOADS. yt-dlp said: %s",
            text[:300],
        )
        return VideoRejected(YOUTUBE_REFUSED)
    if any(isinstance(cause, socket.gaierror) for cause in causes) or _has(lowered, *DNS_FAILURES):
        logger.warning("cannot resolve %s from this worker: check its DNS and network. yt-dlp said: %s", site, text)
        return VideoRejected(f"This server cannot reach {site} right now; try again later.")
    if any(isinstance(cause, GeoRestrictedError) for cause in causes) or _has(
        lowered, "not made this video available in your country", "geo restriction", "not available from your location"
    ):
        return VideoRejected("That video is not available in the country this server is in.")
    for words, reply in YOUTUBE_REASONS:
        if _has(lowered, *words):
            return VideoRejected(reply)
    status = http_status(exc)
    if status in {403, 429}:
        if youtube:
            logger.warning(
                "HTTP %s from YouTube, after one retry. %s. If it is 403 on the media, run `python -m workers "
                "--queues transcribe --check` (JavaScript runtime and solver)",
                status,
                BOT_CHECK_ADVICE,
            )
            return VideoRejected(YOUTUBE_REFUSED)
        why = "too many requests" if status == 429 else "forbidden"
        return VideoRejected(
            f"{host or 'That site'} refused to hand the video to this server ({why}); try again later."
        )
    if status is None and (any(isinstance(cause, TransportError) for cause in causes) or _has(lowered, *UNREACHABLE)):
        logger.warning("cannot connect to %s from this worker: %s", site, text)
        return VideoRejected(f"This server cannot reach {site} right now; try again later.")
    if _has(lowered, *NO_FORMATS):
        if youtube:
            logger.warning(
                "YouTube gave no usable format: its JavaScript challenge may have failed; run "
                "`python -m workers --queues transcribe --check`. yt-dlp said: %s",
                text[:300],
            )
            return VideoRejected(YOUTUBE_REFUSED)
        return VideoRejected("I found no audio or video at that link.")
    if "sign in" in lowered or "login required" in lowered or "needed to download this content" in lowered:
        return VideoRejected("That video is only for signed-in YouTube accounts; I cannot fetch it.")
    if "unsupported url" in lowered:
        return VideoRejected("I found no video at that link.")
    return VideoRejected("That video is unavailable (removed, private, blocked here, or the link is wrong).")


def close_responses(exc: BaseException) -> None:
    """Close the HTTP responses that yt-dlp's HTTPErrors keep open, before the error is dropped or kept."""
    for cause in _causes(exc):
        if isinstance(cause, HTTPError | urllib.error.HTTPError):
            cause.close()


def http_status(exc: BaseException) -> int | None:
    """The HTTP status behind a yt-dlp error (its cause, or the "HTTP Error 429" in its text)."""
    for cause in _causes(exc):
        if isinstance(cause, HTTPError):
            return int(cause.status)
        if isinstance(cause, urllib.error.HTTPError):
            return int(cause.code)
    found = re.search(r"HTTP Error (\d{3})", str(exc))
    return int(found.group(1)) if found else None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it: yt-dlp's exc_info and ``cause``, Python's __cause__ and __context__."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 20:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        info = getattr(current, "exc_info", None)
        if isinstance(info, tuple) and len(info) == 3 and isinstance(info[1], BaseException):
            todo.append(info[1])
        cause = getattr(current, "cause", None)
        todo.extend([cause if isinstance(cause, BaseException) else None, current.__cause__, current.__context__])


def _has(text: str, *words: str) -> bool:
    return any(word in text for word in words)
