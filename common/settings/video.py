"""Which video links are fetched, and how gently YouTube is asked."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from common.settings.base import Area

YOUTUBE_HOSTS = "youtube.com,www.youtube.com,m.youtube.com,music.youtube.com,youtu.be,www.youtu.be"


class VideoSettings(Area):
    ALLOWED_VIDEO_HOSTS: str = YOUTUBE_HOSTS
    MAX_VIDEO_SECONDS: int = Field(default=1800, gt=0, le=6 * 3600)
    YTDLP_COOKIES: Path | None = None
    # Hosts that may resolve to private or loopback addresses (an intranet media server; tests use
    # 127.0.0.1). Accepted like ALLOWED_VIDEO_HOSTS; every other host must resolve to public addresses.
    PRIVATE_VIDEO_HOSTS: str = ""
    # YouTube answers data-centre addresses that download a lot with a sign-in check: at most this many
    # YouTube downloads at a time over all workers sharing one Redis, and this pause between one
    # worker's requests to YouTube (yt-dlp's "-t sleep" preset uses 0.75 s).
    YOUTUBE_CONCURRENT_DOWNLOADS: int = Field(default=2, ge=1, le=100)
    YOUTUBE_SLEEP_S: float = Field(default=0.75, ge=0, le=60)

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return frozenset(host.strip().lower() for host in self.ALLOWED_VIDEO_HOSTS.split(",") if host.strip())

    @property
    def private_hosts(self) -> frozenset[str]:
        return frozenset(host.strip().lower() for host in self.PRIVATE_VIDEO_HOSTS.split(",") if host.strip())

    @field_validator("YTDLP_COOKIES")
    @classmethod
    def _cookies_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("must name an existing cookies file (Netscape format, as yt-dlp reads)")
        return value
