"""What a link points at, read with yt-dlp before anything is downloaded: refuse what we will not process."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from yt_dlp import YoutubeDL
from yt_dlp.networking import Request, Response
from yt_dlp.utils import DownloadError

from common.errors import VideoRejected
from workers.speech.connect_guard import AddressGuard
from workers.speech.js_runtime import JsRuntime
from workers.speech.refusals import close_responses, http_status, rejection

logger = logging.getLogger(__name__)

T = TypeVar("T")
RETRIED_STATUSES = frozenset({403, 429})  # often a passing throttle: one more try after a pause
RETRY_AFTER_S = 5.0
# yt-dlp warnings an operator must see (the rest are chatter at INFO): the JavaScript challenge,
# PO tokens, the bot check and missing formats all point at what YouTube needs in 2026.
OPERATOR_WARNINGS = ("javascript", "js challenge", "challenge solv", "po token", "sign in", "formats may be missing")


class YtdlpLog:
    """yt-dlp's messages into our logging instead of stdout/stderr."""

    def debug(self, message: str) -> None:
        logger.debug("yt-dlp: %s", message)

    def info(self, message: str) -> None:
        logger.debug("yt-dlp: %s", message)

    def warning(self, message: str) -> None:
        important = any(word in message.lower() for word in OPERATOR_WARNINGS)
        logger.log(logging.WARNING if important else logging.INFO, "yt-dlp: %s", message)

    def error(self, message: str) -> None:
        logger.info("yt-dlp: %s", message)


Guard = AddressGuard  # raises VideoRejected for a URL the worker must not fetch


class GuardedYoutubeDL(YoutubeDL):
    """YoutubeDL whose every HTTP request (pages, embeds, formats, segments) passes ``guard`` first.

    yt-dlp follows redirects inside one request; the worker walks a link's redirects itself before
    yt-dlp sees it (source.py), so a redirect seen here is a second one: its target is checked too
    and the response dropped, though by then the request was sent. Meanwhile each socket yt-dlp
    connects is checked as it connects (connect_guard): a name that resolves to a private address
    the second time, or a redirect to one, fails before anything is sent.
    """

    def __init__(self, options: dict[str, Any], guard: Guard | None) -> None:
        super().__init__(options)
        self.guard = guard

    def extract_info(self, *args: Any, **kwargs: Any) -> Any:
        with self._connecting():
            return super().extract_info(*args, **kwargs)

    def download_extracted(self, info: dict[str, Any]) -> dict[str, Any]:
        """Downloads what ``extract_info(url, download=False)`` found, without extracting it again."""
        with self._connecting():
            return self.process_ie_result(info, download=True)  # type: ignore[no-any-return]

    def _connecting(self) -> AbstractContextManager[None]:
        return nullcontext() if self.guard is None else self.guard.connecting()

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


def ytdlp_options(
    *, youtube: bool, cookies: Path | None, js_runtime: JsRuntime | None = None, sleep_s: float = 0.0
) -> dict[str, Any]:
    """Options shared by metadata and download: one extractor only, one video only, quiet.

    ``js_runtime`` is named to yt-dlp explicitly (its default looks for ``deno`` on PATH); without one
    no runtime is enabled. ``sleep_s`` paces requests to a site that throttles (YouTube).
    """
    options: dict[str, Any] = {
        # A YouTube link goes to the YouTube extractor only; anything else is a plain media file.
        "allowed_extractors": ["youtube"] if youtube else ["generic"],
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": YtdlpLog(),
        "socket_timeout": 30,
        "js_runtimes": js_runtime.ytdlp_option() if js_runtime is not None else {},
    }
    if sleep_s > 0:
        options["sleep_interval_requests"] = sleep_s  # between the requests of one extraction
        options["sleep_interval"] = sleep_s  # before the media download itself
    if cookies is not None:
        options["cookiefile"] = str(cookies)
    return options


def read_metadata(
    ydl: GuardedYoutubeDL, url: str, *, youtube: bool, max_seconds: int, retry_after_s: float = RETRY_AFTER_S
) -> dict[str, Any]:
    """yt-dlp's info on ``url``, found without downloading; VideoRejected for what we do not process."""
    try:
        info = retry_once(lambda: ydl.extract_info(url, download=False), retry_after_s)
    except DownloadError as exc:
        raise rejection(exc, youtube=youtube, host=urlsplit(url).hostname) from exc
    if info is None:
        raise VideoRejected("That video is unavailable.")
    if info.get("_type") == "playlist" or info.get("entries") is not None:
        raise VideoRejected("That is a playlist; send a link to one video of it.")
    if info.get("live_status") in {"is_upcoming"}:
        raise VideoRejected("That live stream or premiere has not started yet; send it again when it has ended.")
    if info.get("is_live") or info.get("live_status") in {"is_live", "post_live"}:
        raise VideoRejected("That is a live stream; send it again when it has ended and is a plain video.")
    check_duration(info.get("duration"), max_seconds)  # None when the site does not say: checked after download
    return info  # type: ignore[no-any-return]


def retry_once(action: Callable[[], T], retry_after_s: float, again: Callable[[], T] | None = None) -> T:
    """``action()``; after an HTTP 403 or 429 once more (or ``again()``), ``retry_after_s`` later."""
    try:
        return action()
    except DownloadError as exc:
        status = http_status(exc)
        if status not in RETRIED_STATUSES:
            raise
        close_responses(exc)
        logger.info("HTTP %s from the site; trying once more in %.1f s", status, retry_after_s)
    # Out of the except block: the first error's traceback (yt-dlp's frames) is not kept alive.
    time.sleep(retry_after_s)
    return (again or action)()


def check_duration(duration: float | None, max_seconds: int) -> None:
    if duration is not None and duration > max_seconds:
        raise VideoRejected(f"That video is {_minutes(duration)} long; I take videos up to {_minutes(max_seconds)}.")


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"
