"""Audio only, with yt-dlp's Python API, into a directory the job removes afterwards."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from yt_dlp import YoutubeDL
from yt_dlp.utils import DownloadError

from common.errors import VideoRejected
from workers.speech.metadata import rejection, ytdlp_options

logger = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 1024**3  # a 30-minute video's audio is some 30 MB; this only stops abuse


def download_audio(
    url: str,
    directory: Path,
    *,
    youtube: bool,
    cookies: Path | None,
    on_progress: Callable[[float], None] = lambda fraction: None,
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
    with YoutubeDL(options) as ydl:
        try:
            info = ydl.extract_info(url, download=True)
        except DownloadError as exc:
            raise rejection(exc) from exc
    downloads = (info or {}).get("requested_downloads") or []
    if not downloads or not Path(downloads[0]["filepath"]).is_file():
        raise VideoRejected("That video could not be downloaded (it may be too large).")
    on_progress(1.0)
    return Path(downloads[0]["filepath"])
