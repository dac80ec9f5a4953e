"""What a link points at, read with yt-dlp without downloading: refuse what we will not process."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yt_dlp import YoutubeDL
from yt_dlp.networking import Request, Response
from yt_dlp.utils import DownloadError

from common.errors import VideoRejected

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoInfo:
    title: str
    duration: float | None  # None when the site does not say (plain files): checked after download


class YtdlpLog:
    """yt-dlp's messages into our logging instead of stdout/stderr."""

    def debug(self, message: str) -> None:
        logger.debug("yt-dlp: %s", message)

    def info(self, message: str) -> None:
        logger.debug("yt-dlp: %s", message)

    def warning(self, message: str) -> None:
        logger.info("yt-dlp: %s", message)

    def error(self, message: str) -> None:
        logger.info("yt-dlp: %s", message)


Guard = Callable[[str], None]  # raises VideoRejected for a URL the worker must not fetch


class GuardedYoutubeDL(YoutubeDL):
    """YoutubeDL whose every HTTP request (pages, embeds, formats, segments) passes ``guard`` first.

    yt-dlp follows redirects inside one request; the worker walks a link's redirects itself before
    yt-dlp sees it (source.py), so a redirect seen here is a second one: its target is checked too
    and the response dropped, though by then the request was sent.
    """

    def __init__(self, options: dict[str, Any], guard: Guard | None) -> None:
        super().__init__(options)
        self.guard = guard

    def urlopen(self, req: str | Request) -> Response:
        url = req if isinstance(req, str) else req.url
        if self.guard is None:
            return super().urlopen(req)
        self.guard(url)
        response = super().urlopen(req)
        if response.url != url:
            try:
                self.guard(response.url)
            except VideoRejected:
                response.close()
                raise
        return response


def ytdlp_options(*, youtube: bool, cookies: Path | None) -> dict[str, Any]:
    """Options shared by metadata and download: one extractor only, one video only, quiet."""
    options: dict[str, Any] = {
        # A YouTube link goes to the YouTube extractor only; anything else is a plain media file.
        "allowed_extractors": ["youtube"] if youtube else ["generic"],
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": YtdlpLog(),
        "socket_timeout": 30,
    }
    if cookies is not None:
        options["cookiefile"] = str(cookies)
    return options


def read_metadata(
    url: str, *, youtube: bool, cookies: Path | None, max_seconds: int, guard: Guard | None = None
) -> VideoInfo:
    with GuardedYoutubeDL(ytdlp_options(youtube=youtube, cookies=cookies), guard) as ydl:
        try:
            info = ydl.extract_info(url, download=False)
        except DownloadError as exc:
            raise rejection(exc) from exc
    if info is None:
        raise VideoRejected("That video is unavailable.")
    if info.get("_type") == "playlist" or info.get("entries") is not None:
        raise VideoRejected("That is a playlist; send a link to one video of it.")
    if info.get("is_live") or info.get("live_status") in {"is_live", "is_upcoming", "post_live"}:
        raise VideoRejected("That is a live stream; send it again when it has ended and is a plain video.")
    duration = info.get("duration")
    check_duration(duration, max_seconds)
    return VideoInfo(title=str(info.get("title") or "video"), duration=float(duration) if duration else None)


def check_duration(duration: float | None, max_seconds: int) -> None:
    if duration is not None and duration > max_seconds:
        raise VideoRejected(f"That video is {_minutes(duration)} long; I take videos up to {_minutes(max_seconds)}.")


def rejection(exc: DownloadError) -> VideoRejected:
    """yt-dlp's error as a reply a user understands."""
    text = str(exc)
    logger.info("yt-dlp refused: %s", text)
    if "Sign in to confirm" in text or "cookies" in text.lower():
        return VideoRejected(
            "YouTube asks this server to sign in before it hands out that video; "
            "the operator can give yt-dlp a cookies file (YTDLP_COOKIES)."
        )
    if "Private video" in text:
        return VideoRejected("That video is private.")
    if "Unsupported URL" in text:
        return VideoRejected("I found no video at that link.")
    return VideoRejected("That video is unavailable (removed, private, blocked here, or the link is wrong).")


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"
