"""Audio only, with yt-dlp's Python API, into a directory the job removes afterwards.

One extraction serves both the checks and the download: for YouTube an extraction is a watch page,
a player and its JavaScript challenge, so a second one would double what the site sees of us.
"""

from __future__ import annotations

import gc
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from yt_dlp.utils import DownloadError

from common.errors import VideoRejected
from workers.speech import connect_guard
from workers.speech.js_runtime import JsRuntime
from workers.speech.metadata import (
    RETRY_AFTER_S,
    Guard,
    GuardedYoutubeDL,
    read_metadata,
    retry_once,
    ytdlp_options,
)
from workers.speech.refusals import rejection

logger = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 1024**3  # a 30-minute video's audio is some 30 MB; this only stops abuse


def download_audio(
    url: str,
    directory: Path,
    *,
    youtube: bool,
    cookies: Path | None,
    max_seconds: int,
    before_download: Callable[[], None] = lambda: None,
    on_progress: Callable[[float], None] = lambda fraction: None,
    guard: Guard | None = None,
    js_runtime: JsRuntime | None = None,
    sleep_s: float = 0.0,
    retry_after_s: float = RETRY_AFTER_S,
) -> Path:
    """The link checked (``read_metadata``), ``before_download()``, then the best audio-only format
    (or the whole file where there is none) into ``directory``.

    A 403 or 429 on the download is tried once more with a fresh extraction: the media URLs of
    the first (YouTube's signed ones) may be what was refused.
    """

    def hook(status: dict[str, Any]) -> None:
        if status.get("status") == "downloading":
            total = status.get("total_bytes") or status.get("total_bytes_estimate")
            if total:
                with connect_guard.paused():  # our progress goes to Redis, not to the video's site
                    on_progress(min(1.0, status.get("downloaded_bytes", 0) / total))

    options = ytdlp_options(youtube=youtube, cookies=cookies, js_runtime=js_runtime, sleep_s=sleep_s) | {
        "format": "bestaudio/best",
        "outtmpl": str(directory / "source.%(ext)s"),
        "progress_hooks": [hook],
        "max_filesize": MAX_DOWNLOAD_BYTES,
        "overwrites": True,
    }
    refused: list[VideoRejected] = []
    with GuardedYoutubeDL(options, guard) as ydl:
        info = read_metadata(ydl, url, youtube=youtube, max_seconds=max_seconds, retry_after_s=retry_after_s)
        before_download()

        def download(found: dict[str, Any]) -> dict[str, Any] | None:
            try:
                return ydl.download_extracted(found)
            except VideoRejected as exc:  # the request guard, mid-download
                refused.append(VideoRejected(str(exc)))  # without the traceback, which holds yt-dlp's frames
                return None

        try:
            downloaded = retry_once(
                lambda: download(info), retry_after_s, again=lambda: download(ydl.extract_info(url, download=False))
            )
        except DownloadError as exc:
            raise rejection(exc, youtube=youtube, host=urlsplit(url).hostname) from exc
    if refused:
        _collect_open_parts()
        raise refused[0]
    downloads = (downloaded or {}).get("requested_downloads") or []
    if not downloads or not Path(downloads[0]["filepath"]).is_file():
        raise VideoRejected("That video could not be downloaded (it may be too large).")
    on_progress(1.0)
    return Path(downloads[0]["filepath"])


def _collect_open_parts() -> None:
    """yt-dlp's fragment downloader keeps its part file in a reference cycle, left open when a request
    fails with an error it does not expect; collected later it would warn at some random moment."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
