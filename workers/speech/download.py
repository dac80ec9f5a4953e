"""Audio only, with yt-dlp's Python API, into a directory the job removes afterwards."""

from __future__ import annotations

import gc
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from yt_dlp.utils import DownloadError

from common.errors import VideoRejected
from workers.speech.metadata import Guard, GuardedYoutubeDL, rejection, ytdlp_options

logger = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 1024**3  # a 30-minute video's audio is some 30 MB; this only stops abuse


def download_audio(
    url: str,
    directory: Path,
    *,
    youtube: bool,
    cookies: Path | None,
    on_progress: Callable[[float], None] = lambda fraction: None,
    guard: Guard | None = None,
) -> Path:
    """Fetch the best audio-only format (or the whole file where there is none) into ``directory``."""

    def hook(status: dict[str, Any]) -> None:
        if status.get("status") == "downloading":
            total = status.get("total_bytes") or status.get("total_bytes_estimate")
            if total:
                on_progress(min(1.0, status.get("downloaded_bytes", 0) / total))

    options = ytdlp_options(youtube=youtube, cookies=cookies) | {
        "format": "bestaudio/best",
        "outtmpl": str(directory / "source.%(ext)s"),
        "progress_hooks": [hook],
        "max_filesize": MAX_DOWNLOAD_BYTES,
        "overwrites": True,
    }
    refused: VideoRejected | None = None
    with GuardedYoutubeDL(options, guard) as ydl:
        try:
            info = ydl.extract_info(url, download=True)
        except DownloadError as exc:
            raise rejection(exc) from exc
        except VideoRejected as exc:  # the request guard, mid-download
            refused = VideoRejected(str(exc))  # without the traceback, which holds yt-dlp's frames
    if refused is not None:
        _collect_open_parts()
        raise refused
    downloads = (info or {}).get("requested_downloads") or []
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
