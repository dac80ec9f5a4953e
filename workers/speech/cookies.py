"""What a YTDLP_COOKIES file holds for YouTube, read the way yt-dlp reads it (Netscape format).

An exported cookies file goes stale: its cookies carry their own expiry dates, and YouTube rotates
the session of an account whose cookies are used elsewhere. ``--check`` reports both what it finds
and the risk (the account can be banned: use a throwaway one).
"""

from __future__ import annotations

import http.cookiejar
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from yt_dlp.cookies import YoutubeDLCookieJar

from common.errors import DataError

YOUTUBE_DOMAIN = "youtube.com"


@dataclass(frozen=True)
class CookiesSummary:
    youtube: int  # cookies for youtube.com and its subdomains
    expired: int  # of those, expired by their own dates
    last_expiry: float | None  # the latest expiry of those still valid (None: session cookies only)

    def describe(self) -> str:
        if self.last_expiry is None:
            until = "session cookies only"
        else:
            until = f"valid until {datetime.fromtimestamp(self.last_expiry, UTC):%Y-%m-%d}"
        stale = f", {self.expired} expired" if self.expired else ""
        return f"{self.youtube} {YOUTUBE_DOMAIN} cookies ({until}{stale})"


def read_cookies(path: Path, now: float | None = None) -> CookiesSummary:
    """The file's youtube.com cookies; DataError (naming the fix) when yt-dlp could not use them."""
    now = time.time() if now is None else now
    jar = YoutubeDLCookieJar(str(path))
    try:
        jar.load(ignore_discard=True, ignore_expires=True)
    except http.cookiejar.LoadError as exc:
        raise DataError(f"{path} is not a Netscape-format cookies file ({exc}): export it again") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} cannot be read: {exc}") from None
    youtube = [cookie for cookie in jar if cookie.domain.lstrip(".").endswith(YOUTUBE_DOMAIN)]
    if not youtube:
        raise DataError(f"{path} holds no {YOUTUBE_DOMAIN} cookies: export them while signed in to YouTube")
    expired = [cookie for cookie in youtube if cookie.expires is not None and cookie.expires <= now]
    if len(expired) == len(youtube):
        last = datetime.fromtimestamp(max(cookie.expires or 0 for cookie in expired), UTC)
        raise DataError(
            f"every {YOUTUBE_DOMAIN} cookie in {path} has expired ({len(youtube)} in all, the last on "
            f"{last:%Y-%m-%d}): export fresh ones"
        )
    valid_until = [cookie.expires for cookie in youtube if cookie.expires is not None and cookie.expires > now]
    return CookiesSummary(len(youtube), len(expired), float(max(valid_until)) if valid_until else None)
